import BerthCore

// The outcome of each job's latest attempt, for listings.

extension JobStore {
    /// Returns, for each of `jobIDs` whose current attempt has finished, that
    /// attempt's outcome. A running job's earlier attempts are not reported, so
    /// a listing never shows a past outcome as the present one.
    public func currentAttemptOutcomes(jobIDs: [Int64]) throws -> [Int64: AttemptOutcome] {
        var outcomes: [Int64: AttemptOutcome] = [:]
        // SQLite limits the number of bound values, so ask in slices.
        for start in stride(from: 0, to: jobIDs.count, by: 500) {
            let slice = jobIDs[start..<min(start + 500, jobIDs.count)]
            let placeholders = Array(repeating: "?", count: slice.count).joined(separator: ", ")
            let rows = try connection.query(
                """
                SELECT a.job_id, a.outcome FROM attempts AS a JOIN jobs AS j ON j.id = a.job_id AND j.attempt = a.attempt
                WHERE a.job_id IN (\(placeholders)) AND a.outcome IS NOT NULL
                """, slice.map { .integer($0) }
            ) { row in
                (row.int64(0), row.text(1))
            }
            for (id, name) in rows {
                if let outcome = AttemptOutcome(rawValue: name) { outcomes[id] = outcome }
            }
        }
        return outcomes
    }
}

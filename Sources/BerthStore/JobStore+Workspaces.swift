import BerthCore

// Which jobs no longer need their directories on a worker host.

extension JobStore {
    /// Sorts `jobIDs` into jobs that finished before `cutoff` and jobs that
    /// were pruned; every other id is left out.
    ///
    /// An id that is missing from the table counts as pruned only when this
    /// database already gave it out, so a directory that belongs to some other
    /// database is never reported.
    public func finishedOrPrunedJobs(_ jobIDs: [Int64], finishedBefore cutoff: Int64) throws -> (finished: [Int64], pruned: [Int64]) {
        guard !jobIDs.isEmpty else { return ([], []) }

        let lastGivenID = try connection.queryFirst("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'") { $0.int64(0) } ?? 0
        let finished = Set(JobState.finished.map(\.rawValue))
        var finishedIDs: [Int64] = []
        var prunedIDs: [Int64] = []

        // SQLite limits the number of bound values, so ask in slices.
        let sorted = jobIDs.sorted()
        for start in stride(from: 0, to: sorted.count, by: 500) {
            let slice = Array(sorted[start..<min(start + 500, sorted.count)])
            let placeholders = Array(repeating: "?", count: slice.count).joined(separator: ", ")
            let rows = try connection.query(
                "SELECT id, state, finished_at FROM jobs WHERE id IN (\(placeholders))", slice.map { .integer($0) }
            ) { row in
                (id: row.int64(0), state: row.text(1), finishedAt: row.optionalInt64(2))
            }
            let known = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0) })

            for id in slice {
                if let job = known[id] {
                    if finished.contains(job.state), let finishedAt = job.finishedAt, finishedAt < cutoff {
                        finishedIDs.append(id)
                    }
                } else if id <= lastGivenID {
                    prunedIDs.append(id)
                }
            }
        }
        return (finishedIDs, prunedIDs)
    }
}

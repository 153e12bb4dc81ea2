import BerthCore
import Foundation

// Operator actions: cancel, retry, approve, answer and prune.

extension JobStore {
    /// Cancels a job that is not running, or asks the worker of a running job to stop it.
    public func cancel(id: Int64, now: Int64) throws -> CancelResult {
        try connection.writeTransaction {
            let job = try requireJob(id: id)
            if job.state == .running {
                try connection.execute(
                    "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ? AND state = 'running'",
                    [.integer(now), .integer(id)])
                return .requested
            }
            try applyTransition(.cancel, to: job, now: now)
            return .cancelled
        }
    }

    /// Queues a failed, dead or cancelled job again with a fresh attempt budget.
    public func retry(id: Int64, now: Int64) throws {
        try connection.writeTransaction {
            let job = try requireJob(id: id)
            try applyTransition(.retry, to: job, now: now, extraAssignments: "attempts_used = 0, run_at = ?,", extraValues: [.integer(now)])
        }
    }

    /// Releases a held job to the queue.
    public func approve(id: Int64, now: Int64) throws {
        try connection.writeTransaction {
            let job = try requireJob(id: id)
            try applyTransition(.approve, to: job, now: now)
        }
    }

    /// Applies `transition` to `job`, guarded in SQL by the transition's
    /// source states so a concurrent change cannot slip between read and write.
    func applyTransition(
        _ transition: JobTransition, to job: JobRecord, now: Int64,
        extraAssignments: String = "", extraValues: [SQLiteValue] = []
    ) throws {
        let target: JobState
        do {
            target = try job.state.applying(transition)
        } catch {
            throw StoreError.illegalTransition(jobID: job.id, error)
        }
        let sources = transition.sources.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        try connection.execute(
            """
            UPDATE jobs SET \(extraAssignments) state = ?, finished_at = ?, cancel_requested = 0, updated_at = ?
            WHERE id = ? AND state IN (\(sources))
            """,
            extraValues + [.text(target.rawValue), SQLiteValue(target.isFinished ? now : nil), .integer(now), .integer(job.id)])
        guard connection.changes == 1 else {
            throw StoreError.illegalTransition(jobID: job.id, IllegalTransition(transition: transition, state: job.state))
        }
    }

    /// Deletes finished jobs whose `finished_at` is before `cutoff`, with their
    /// attempts, events, logs and checkpoint rows, in batches of `batchSize`
    /// so other writers are never locked out for long.
    ///
    /// Returns the number of jobs removed and the stored checkpoint files that
    /// belonged to them, each path once, for the caller to delete.
    public func prune(finishedBefore cutoff: Int64, batchSize: Int = 500) throws -> (jobs: Int, checkpointFiles: [String]) {
        var removed = 0
        var files: [String] = []
        let finished = JobState.finished.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        while true {
            let batch: Int = try connection.writeTransaction {
                let ids = try connection.query(
                    "SELECT id FROM jobs WHERE finished_at < ? AND state IN (\(finished)) ORDER BY finished_at LIMIT ?",
                    [.integer(cutoff), .integer(Int64(batchSize))]) { $0.int64(0) }
                guard !ids.isEmpty else { return 0 }

                let list = ids.map(String.init).joined(separator: ",")
                files += try connection.query(
                    "SELECT DISTINCT stored_path FROM checkpoints WHERE job_id IN (\(list)) AND stored_path IS NOT NULL") { $0.text(0) }
                try connection.execute("DELETE FROM jobs WHERE id IN (\(list))")
                return ids.count
            }
            removed += batch
            if batch < batchSize { break }
        }
        return (removed, files)
    }
}

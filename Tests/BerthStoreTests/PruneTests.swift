import BerthCore
@testable import BerthStore
import Testing

final class PruneTests {
    let directory: TemporaryDirectory
    let store: JobStore
    /// A second connection to the same file, for rows that no public call writes.
    let raw: SQLiteConnection
    let day: Int64 = 86_400_000

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
        raw = try SQLiteConnection(path: directory.file("berth.db"), busyTimeout: .seconds(5))
    }

    deinit {
        directory.remove()
    }

    /// Submits a job, runs one attempt and finishes it with `decision` at `finishedAt`.
    func finishedJob(at finishedAt: Int64, decision: RetryDecision = .succeed) throws -> Int64 {
        let id = try store.submitOne(makeSpec(), now: finishedAt - 1000)
        let claimed = try #require(try store.claim(queue: nil, worker: "w", leaseDuration: .minutes(1), now: finishedAt - 1000))
        #expect(claimed.lease.jobID == id)
        try store.finishAttempt(claimed.lease, result: AttemptResult(outcome: .failed), decision: decision, now: finishedAt)
        return id
    }

    /// Stores an event, a log line and a checkpoint for attempt 1 of `id`.
    func addOutput(to id: Int64) throws {
        try raw.execute(
            "INSERT INTO events (job_id, attempt, seq, at, type, is_json, payload) VALUES (?, 1, 1, 0, 'progress', 1, '{}')",
            [.integer(id)])
        try raw.execute("INSERT INTO logs (job_id, attempt, seq, at, line) VALUES (?, 1, 1, 0, 'starting')", [.integer(id)])
        try raw.execute(
            "INSERT INTO checkpoints (job_id, attempt, name, sha256, size, stored_path, valid, captured_at) VALUES (?, 1, 'state', 'ab', 2, ?, 1, 0)",
            [.integer(id), .text("/var/lib/berth/checkpoints/\(id)/state")])
    }

    func count(_ table: String, jobID: Int64) throws -> Int {
        try raw.queryFirst("SELECT COUNT(*) FROM \(table) WHERE job_id = ?", [.integer(jobID)]) { $0.int(0) } ?? -1
    }

    @Test func removesOldFinished() throws {
        let succeeded = try finishedJob(at: startTime - 10 * day)
        let dead = try finishedJob(at: startTime - 10 * day, decision: .bury(reason: "x"))
        let cancelled = try store.submitOne(makeSpec(), now: startTime - 10 * day)
        _ = try store.cancel(id: cancelled, now: startTime - 10 * day)

        let pruned = try store.prune(finishedBefore: startTime - 7 * day)

        #expect(pruned.jobs == 3)
        #expect(try store.job(id: succeeded) == nil)
        #expect(try store.job(id: dead) == nil)
        #expect(try store.job(id: cancelled) == nil)
    }

    @Test func keepsRecentFinished() throws {
        let recent = try finishedJob(at: startTime - day)

        let pruned = try store.prune(finishedBefore: startTime - 7 * day)

        #expect(pruned.jobs == 0)
        #expect(try store.job(id: recent) != nil)
    }

    @Test func cutoffExclusive() throws {
        let atCutoff = try finishedJob(at: startTime - 7 * day)

        #expect(try store.prune(finishedBefore: startTime - 7 * day).jobs == 0)
        #expect(try store.job(id: atCutoff) != nil)
    }

    @Test func keepsUnfinished() throws {
        let old = startTime - 30 * day
        let queued = try store.submitOne(makeSpec(), now: old)
        let held = try store.submitOne(makeSpec(hold: true), now: old)
        let failed = try finishedJob(at: old, decision: .retry(after: .hours(1)))
        let running = try store.submitOne(makeSpec(priority: 1), now: old)
        _ = try store.claim(queue: nil, worker: "w", leaseDuration: .minutes(1), now: old)

        let pruned = try store.prune(finishedBefore: startTime)

        #expect(pruned.jobs == 0)
        for id in [queued, held, failed, running] {
            #expect(try store.job(id: id) != nil, "job \(id)")
        }
    }

    @Test func removesDependentRows() throws {
        let old = try finishedJob(at: startTime - 10 * day)
        let kept = try finishedJob(at: startTime)
        try addOutput(to: old)
        try addOutput(to: kept)

        _ = try store.prune(finishedBefore: startTime - 7 * day)

        for table in ["attempts", "events", "logs", "checkpoints"] {
            #expect(try count(table, jobID: old) == 0, "\(table) of the pruned job")
            #expect(try count(table, jobID: kept) == 1, "\(table) of the kept job")
        }
    }

    @Test func returnsCheckpointFiles() throws {
        let old = try finishedJob(at: startTime - 10 * day)
        let kept = try finishedJob(at: startTime)
        try addOutput(to: old)
        try addOutput(to: kept)

        let pruned = try store.prune(finishedBefore: startTime - 7 * day)

        #expect(pruned.checkpointFiles == ["/var/lib/berth/checkpoints/\(old)/state"])
    }

    @Test func prunesInBatches() throws {
        var ids: [Int64] = []
        for offset in 0..<5 {
            ids.append(try finishedJob(at: startTime - 10 * day + Int64(offset)))
        }
        let kept = try finishedJob(at: startTime)

        let pruned = try store.prune(finishedBefore: startTime - day, batchSize: 2)

        #expect(pruned.jobs == 5)
        #expect(try store.jobs(matching: JobFilter()).map(\.id) == [kept])
    }

    @Test func prunesExactBatchMultiple() throws {
        for offset in 0..<4 {
            _ = try finishedJob(at: startTime - 10 * day + Int64(offset))
        }

        #expect(try store.prune(finishedBefore: startTime, batchSize: 2).jobs == 4)
    }

    @Test func pruneEmpty() throws {
        let pruned = try store.prune(finishedBefore: startTime)

        #expect(pruned.jobs == 0)
        #expect(pruned.checkpointFiles.isEmpty)
    }

    /// The daemon deletes workspaces of jobs this call names: finished before
    /// the cutoff, or pruned. Live jobs, recent ones and ids this database never
    /// gave out stay.
    @Test func namesJobsWhoseDirectoriesMayGo() throws {
        let old = try finishedJob(at: startTime - 2 * day)
        let recent = try finishedJob(at: startTime - 1000)
        let pruned = try finishedJob(at: startTime - 9 * day)
        let waitingForRetry = try finishedJob(at: startTime - 2 * day, decision: .retry(after: .seconds(1)))
        let queued = try store.submitOne(makeSpec(), now: startTime - 3 * day)
        _ = try store.prune(finishedBefore: startTime - 5 * day)

        let sorted = try store.finishedOrPrunedJobs(
            [old, recent, pruned, waitingForRetry, queued, queued + 1_000], finishedBefore: startTime - day)
        #expect(sorted.finished == [old])
        #expect(sorted.pruned == [pruned])
        #expect(try store.finishedOrPrunedJobs([], finishedBefore: startTime) == ([], []))
    }
}

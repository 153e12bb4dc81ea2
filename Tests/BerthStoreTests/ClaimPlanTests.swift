import BerthCore
@testable import BerthStore
import Testing

/// Query plans of the worker's frequent queries. The claim must read ready
/// jobs in order from a partial index, because a sort of every ready job made
/// each claim slower as the queue grew. The search for expired leases must
/// read running jobs only.
final class ClaimPlanTests {
    let directory: TemporaryDirectory
    let store: JobStore

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    /// Returns the detail lines of `EXPLAIN QUERY PLAN` for `sql`.
    func plan(_ sql: String) throws -> [String] {
        try store.connection.query("EXPLAIN QUERY PLAN " + sql) { $0.text(3) }
    }

    @Test func anyQueueClaimUsesReadyIndex() throws {
        let steps = try plan(JobStore.claimOfAnyQueue)

        #expect(steps.contains { $0.contains("USING INDEX jobs_ready") }, "\(steps)")
        #expect(!steps.contains { $0.contains("TEMP B-TREE") }, "\(steps)")
    }

    @Test func namedQueueClaimUsesClaimableIndex() throws {
        let steps = try plan(JobStore.claimOfNamedQueue)

        #expect(steps.contains { $0.contains("USING INDEX jobs_claimable") }, "\(steps)")
        #expect(!steps.contains { $0.contains("TEMP B-TREE") }, "\(steps)")
    }

    @Test func excludingClaimUsesReadyIndex() throws {
        let steps = try plan(JobStore.claimStatement(index: "jobs_ready", queueCondition: "AND queue NOT IN (?4, ?5)"))

        #expect(steps.contains { $0.contains("USING INDEX jobs_ready") }, "\(steps)")
        #expect(!steps.contains { $0.contains("TEMP B-TREE") }, "\(steps)")
    }

    @Test func expiredLeasesReadRunningJobsOnly() throws {
        let steps = try plan(JobStore.expiredLeasesQuery)

        #expect(steps.contains { $0.contains("USING INDEX jobs_by_state (state=?)") }, "\(steps)")
        #expect(!steps.contains { $0.hasPrefix("SCAN jobs") }, "\(steps)")
    }

    @Test func claimExcludingQueuesSkipsThem() throws {
        let listed = try store.submitOne(makeSpec(queue: "gpu", priority: 5))
        let other = try store.submitOne(makeSpec(queue: "batch", priority: 0))

        let claimed = try store.claim(queue: nil, excludingQueues: ["gpu"], worker: "worker-a", leaseDuration: .minutes(1), now: startTime)

        #expect(claimed?.lease.jobID == other)
        #expect(try store.claim(queue: nil, excludingQueues: ["gpu"], worker: "worker-a", leaseDuration: .minutes(1), now: startTime) == nil)
        #expect(try store.claimNext()?.lease.jobID == listed)
    }

    @Test func claimReadsFailedJobsThroughIndex() throws {
        let id = try store.submitOne()
        let first = try #require(try store.claimNext())
        try store.finishAttempt(
            first.lease, result: AttemptResult(outcome: .failed, exitCode: 1), decision: .retry(after: .seconds(10)), now: startTime)

        #expect(try store.record(id).state == .failed)
        #expect(try store.claimNext(now: startTime + 9_999) == nil)
        #expect(try store.claimNext(now: startTime + 10_000)?.lease.jobID == id)
    }
}

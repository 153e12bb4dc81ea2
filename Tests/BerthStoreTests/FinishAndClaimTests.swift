import BerthCore
import BerthStore
import Testing

/// `finishAttemptAndClaim`: the finish of one attempt and the claim of the
/// next job in one write transaction.
final class FinishAndClaimTests {
    let directory: TemporaryDirectory
    let store: JobStore
    let finishTime = startTime + 45_000
    let anyQueue = ClaimRequest(worker: "worker-a", leaseDuration: .minutes(1))

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    /// Finishes `lease` with the outcome and decision of `finish` and claims the next job of any queue in one call.
    func finishAndClaim(_ lease: Lease, _ finish: Finish = .success, now: Int64? = nil) throws -> ClaimedJob? {
        let result = AttemptResult(outcome: finish.outcome, exitCode: finish.exitCode, message: "exited")
        return try store.finishAttemptAndClaim(lease, result: result, decision: finish.decision, next: anyQueue, now: now ?? finishTime)
    }

    /// Returns every job and every attempt of `store`, for comparing two databases.
    func contents(of store: JobStore) throws -> (jobs: [JobRecord], attempts: [AttemptRecord]) {
        let jobs = try store.jobs(matching: JobFilter(limit: 1000))
        let attempts = try jobs.flatMap { try store.attempts(jobID: $0.id) }
        return (jobs, attempts)
    }

    /// The combined call leaves the same jobs and attempts as `finishAttempt`
    /// followed by `claim`, whatever the finished attempt's decision, and
    /// claims the same job.
    @Test(arguments: finishes)
    func sameRowsAsSeparateCalls(finish: Finish) throws {
        let separate = try openStore(directory.file("separate.db"))
        let specs = [makeSpec(priority: 2), makeSpec(priority: 1), makeSpec(queue: "gpu")]
        _ = try store.submit(specs, now: startTime)
        _ = try separate.submit(specs, now: startTime)
        let result = AttemptResult(outcome: finish.outcome, exitCode: finish.exitCode, message: "exited")

        let first = try #require(try store.claim(anyQueue, now: startTime))
        let next = try store.finishAttemptAndClaim(first.lease, result: result, decision: finish.decision, next: anyQueue, now: finishTime)
        let separateFirst = try #require(try separate.claim(anyQueue, now: startTime))
        try separate.finishAttempt(separateFirst.lease, result: result, decision: finish.decision, now: finishTime)
        let separateNext = try separate.claim(anyQueue, now: finishTime)

        #expect(next?.lease == separateNext?.lease)
        #expect(next?.queue == separateNext?.queue)
        #expect(next?.spec == separateNext?.spec)
        #expect(next?.attemptsUsed == separateNext?.attemptsUsed)
        #expect(next?.leaseExpiresAt == separateNext?.leaseExpiresAt)
        let combined = try contents(of: store)
        let expected = try contents(of: separate)
        #expect(combined.jobs == expected.jobs)
        #expect(combined.attempts == expected.attempts)
    }

    @Test func leaseLostClaimsNothing() throws {
        let first = try store.submitOne()
        let claimed = try #require(try store.claimNext(worker: "worker-a"))
        try store.rescueExpiredLease(
            claimed.lease, result: AttemptResult(outcome: .lost), decision: .bury(reason: "lost"), now: startTime + 60_001)
        let waiting = try store.submitOne(now: startTime + 60_001)

        #expect(throws: StoreError.leaseLost(claimed.lease)) {
            _ = try self.finishAndClaim(claimed.lease, now: startTime + 60_002)
        }
        let job = try store.record(waiting)
        #expect(job.state == .queued)
        #expect(job.attempt == 0)
        #expect(job.leaseOwner == nil)
        #expect(try store.attempts(jobID: waiting).isEmpty)
        #expect(try store.record(first).state == .dead)
        #expect(try store.attempts(jobID: first).first?.outcome == .lost)
    }

    /// A combined call whose lease was already finished changes neither job.
    @Test func finishedLeaseClaimsNothing() throws {
        let first = try store.submitOne()
        let claimed = try #require(try store.claimNext())
        try store.finishAttempt(claimed.lease, result: AttemptResult(outcome: .succeeded), decision: .succeed, now: finishTime)
        let waiting = try store.submitOne(now: finishTime)

        #expect(throws: StoreError.leaseLost(claimed.lease)) {
            _ = try self.finishAndClaim(claimed.lease, .buryExitCode, now: finishTime + 1)
        }
        #expect(try store.record(waiting).state == .queued)
        #expect(try store.attempts(jobID: waiting).isEmpty)
        #expect(try store.record(first).state == .succeeded)
        #expect(try store.attempts(jobID: first).first?.outcome == .succeeded)
    }

    @Test func noReadyJobStillFinishes() throws {
        let id = try store.submitOne()
        let claimed = try #require(try store.claimNext())

        #expect(try finishAndClaim(claimed.lease) == nil)
        let job = try store.record(id)
        #expect(job.state == .succeeded)
        #expect(job.finishedAt == finishTime)
        #expect(job.leaseOwner == nil)
        #expect(try store.attempts(jobID: id).first?.outcome == .succeeded)
    }

    /// A job whose run-at time has not come is not claimed, but the finish is stored.
    @Test func delayedJobNotClaimed() throws {
        _ = try store.submitOne()
        let later = try store.submitOne(makeSpec(runAt: finishTime + 1))
        let claimed = try #require(try store.claimNext())

        #expect(try finishAndClaim(claimed.lease) == nil)
        #expect(try store.record(later).state == .queued)
        #expect(try store.record(claimed.lease.jobID).state == .succeeded)
    }

    @Test func claimedAttemptRowExists() throws {
        _ = try store.submitOne()
        let second = try store.submitOne()
        let claimed = try #require(try store.claimNext())
        let next = try #require(try finishAndClaim(claimed.lease))

        #expect(next.lease == Lease(jobID: second, attempt: 1, owner: "worker-a"))
        #expect(next.leaseExpiresAt == finishTime + 60_000)
        let attempts = try store.attempts(jobID: second)
        #expect(attempts.count == 1)
        #expect(attempts.first?.attempt == 1)
        #expect(attempts.first?.workerID == "worker-a")
        #expect(attempts.first?.claimedAt == finishTime)
        #expect(attempts.first?.outcome == nil)
        #expect(attempts.first?.finishedAt == nil)
        let job = try store.record(second)
        #expect(job.state == .running)
        #expect(job.leaseOwner == "worker-a")
        #expect(job.leaseExpiresAt == finishTime + 60_000)
    }

    @Test func priorityOrderRespected() throws {
        let low = try store.submitOne(makeSpec(priority: -1))
        let normal = try store.submitOne(makeSpec(priority: 0))
        let high = try store.submitOne(makeSpec(priority: 5))
        let older = try store.submitOne(makeSpec(priority: 0, runAt: startTime - 5000))

        var claimedIDs: [Int64] = []
        var current = try store.claim(anyQueue, now: startTime)
        while let job = current {
            claimedIDs.append(job.lease.jobID)
            current = try finishAndClaim(job.lease)
        }

        #expect(claimedIDs == [high, older, normal, low])
        for id in claimedIDs {
            #expect(try store.record(id).state == .succeeded)
        }
    }

    /// A job retried at once is ready again when the claim runs, so it can be
    /// claimed again in the transaction that ended its attempt.
    @Test func retriedJobClaimedAgain() throws {
        let id = try store.submitOne()
        let claimed = try #require(try store.claimNext())
        let next = try #require(try finishAndClaim(claimed.lease, .retryAfterOutOfMemory))

        #expect(next.lease == Lease(jobID: id, attempt: 2, owner: "worker-a"))
        #expect(next.attemptsUsed == 1)
        #expect(try store.attempts(jobID: id).map(\.outcome) == [.outOfMemory, nil])
    }

    @Test func namedQueueRespected() throws {
        _ = try store.submitOne(makeSpec(queue: "cpu", priority: 9))
        let gpu = try store.submitOne(makeSpec(queue: "gpu"))
        let claimed = try #require(try store.claim(ClaimRequest(queue: "gpu", worker: "worker-a", leaseDuration: .minutes(1)), now: startTime))
        #expect(claimed.lease.jobID == gpu)
        let gpuAgain = try store.submitOne(makeSpec(queue: "gpu"))

        let next = try store.finishAttemptAndClaim(
            claimed.lease, result: AttemptResult(outcome: .succeeded), decision: .succeed,
            next: ClaimRequest(queue: "gpu", worker: "worker-a", leaseDuration: .minutes(1)), now: finishTime)

        #expect(next?.lease.jobID == gpuAgain)
        #expect(next?.queue == "gpu")
    }

    @Test func excludedQueuesRespected() throws {
        _ = try store.submitOne()
        let claimed = try #require(try store.claimNext())
        _ = try store.submitOne(makeSpec(queue: "gpu", priority: 9))
        let cpu = try store.submitOne(makeSpec(queue: "cpu"))

        let next = try store.finishAttemptAndClaim(
            claimed.lease, result: AttemptResult(outcome: .succeeded), decision: .succeed,
            next: ClaimRequest(excludingQueues: ["gpu"], worker: "worker-a", leaseDuration: .minutes(1)), now: finishTime)

        #expect(next?.lease.jobID == cpu)
        #expect(next?.queue == "cpu")
    }

    /// An operator's cancel that arrived while the attempt ended still wins
    /// over a retry, and the claim takes another job.
    @Test func cancelRequestedDuringFinish() throws {
        let id = try store.submitOne(makeSpec(priority: 1))
        let other = try store.submitOne()
        let claimed = try #require(try store.claimNext())
        #expect(claimed.lease.jobID == id)
        #expect(try store.cancel(id: id, now: finishTime - 1) == .requested)

        let next = try finishAndClaim(claimed.lease, .retryAfterOutOfMemory)

        #expect(next?.lease.jobID == other)
        #expect(try store.record(id).state == .cancelled)
    }
}

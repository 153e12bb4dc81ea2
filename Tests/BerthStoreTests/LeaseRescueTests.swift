import BerthCore
import BerthStore
import Testing

final class LeaseRescueTests {
    let directory: TemporaryDirectory
    let store: JobStore
    /// When the lease of the job claimed by `claimOne()` expires.
    let expiry = startTime + 60_000

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    /// Submits a job to queue `work` and claims it with a one-minute lease.
    func claimOne() throws -> Lease {
        _ = try store.submitOne(makeSpec(queue: "work"))
        return try #require(try store.claimNext(worker: "worker-a", now: startTime)).lease
    }

    let lost = AttemptResult(outcome: .lost, message: "worker stopped renewing its lease")

    @Test func notExpiredBeforeDeadline() throws {
        _ = try claimOne()

        #expect(try store.expiredLeases(now: expiry - 1).isEmpty)
    }

    @Test func notExpiredAtDeadline() throws {
        _ = try claimOne()

        #expect(try store.expiredLeases(now: expiry).isEmpty)
    }

    @Test func expiredAfterDeadline() throws {
        let lease = try claimOne()
        let expired = try store.expiredLeases(now: expiry + 1)

        #expect(expired.count == 1)
        #expect(expired.first?.lease == lease)
        #expect(expired.first?.queue == "work")
        #expect(expired.first?.spec == makeSpec(queue: "work"))
        #expect(expired.first?.attemptsUsed == 0)
    }

    @Test func expiredOrderAndLimit() throws {
        _ = try store.submit([makeSpec(), makeSpec(), makeSpec()], now: startTime)
        let first = try #require(try store.claim(queue: nil, worker: "w", leaseDuration: .seconds(30), now: startTime))
        let second = try #require(try store.claim(queue: nil, worker: "w", leaseDuration: .seconds(10), now: startTime))
        _ = try store.claim(queue: nil, worker: "w", leaseDuration: .seconds(20), now: startTime)

        let expired = try store.expiredLeases(now: startTime + 60_000, limit: 2)

        #expect(expired.map(\.lease) == [second.lease, Lease(jobID: first.lease.jobID + 2, attempt: 1, owner: "w")])
    }

    @Test func renewedLeaseNotExpired() throws {
        let lease = try claimOne()
        _ = try store.renewLease(lease, leaseDuration: .minutes(1), now: startTime + 50_000)

        #expect(try store.expiredLeases(now: expiry + 1).isEmpty)
    }

    @Test func finishedJobNotExpired() throws {
        let lease = try claimOne()
        try store.finishAttempt(lease, result: AttemptResult(outcome: .succeeded), decision: .succeed, now: startTime + 1)

        #expect(try store.expiredLeases(now: expiry + 1).isEmpty)
    }

    @Test func rescueBeforeExpiryRejected() throws {
        let lease = try claimOne()

        #expect(throws: StoreError.leaseLost(lease)) {
            try self.store.rescueExpiredLease(lease, result: self.lost, decision: .retry(after: .zero), now: self.expiry)
        }
        #expect(try store.record(lease.jobID).state == .running)
        #expect(try store.record(lease.jobID).leaseOwner == "worker-a")
    }

    @Test func rescueAfterExpiry() throws {
        let lease = try claimOne()
        try store.rescueExpiredLease(lease, result: lost, decision: .retry(after: .seconds(10)), now: expiry + 1)
        let job = try store.record(lease.jobID)

        #expect(job.state == .failed)
        #expect(job.attemptsUsed == 1)
        #expect(job.runAt == expiry + 10_001)
        #expect(job.leaseOwner == nil)
        #expect(job.lastError == "worker stopped renewing its lease")
        #expect(try store.attempts(jobID: lease.jobID).first?.outcome == .lost)
    }

    @Test func rescueBuries() throws {
        let lease = try claimOne()
        try store.rescueExpiredLease(lease, result: lost, decision: .bury(reason: "all 1 attempts used"), now: expiry + 1)

        #expect(try store.record(lease.jobID).state == .dead)
        #expect(try store.record(lease.jobID).finishedAt == expiry + 1)
    }

    @Test func rescueAfterRenewalRejected() throws {
        let lease = try claimOne()
        let expired = try store.expiredLeases(now: expiry + 1)
        _ = try store.renewLease(lease, leaseDuration: .minutes(1), now: expiry + 1)

        #expect(expired.map(\.lease) == [lease])
        #expect(throws: StoreError.leaseLost(lease)) {
            try self.store.rescueExpiredLease(lease, result: self.lost, decision: .retry(after: .zero), now: self.expiry + 2)
        }
        #expect(try store.record(lease.jobID).state == .running)
    }

    @Test func rescueTwiceRejected() throws {
        let lease = try claimOne()
        try store.rescueExpiredLease(lease, result: lost, decision: .retry(after: .zero), now: expiry + 1)

        #expect(throws: StoreError.leaseLost(lease)) {
            try self.store.rescueExpiredLease(lease, result: self.lost, decision: .retry(after: .zero), now: self.expiry + 2)
        }
    }

    @Test func rescuedWorkerLosesLease() throws {
        let lease = try claimOne()
        try store.rescueExpiredLease(lease, result: lost, decision: .retry(after: .zero), now: expiry + 1)

        #expect(throws: StoreError.leaseLost(lease)) {
            try self.store.renewLease(lease, leaseDuration: .minutes(1), now: self.expiry + 2)
        }
    }

    @Test func rescueWithWrongAttemptRejected() throws {
        let lease = try claimOne()
        let stale = Lease(jobID: lease.jobID, attempt: lease.attempt + 1, owner: lease.owner)

        #expect(throws: StoreError.leaseLost(stale)) {
            try self.store.rescueExpiredLease(stale, result: self.lost, decision: .retry(after: .zero), now: self.expiry + 1)
        }
    }

    @Test func rescueInterruptedRequeues() throws {
        let lease = try claimOne()
        try store.rescueExpiredLease(
            lease, result: AttemptResult(outcome: .interrupted), decision: .requeue, now: expiry + 1)
        let job = try store.record(lease.jobID)

        #expect(job.state == .queued)
        #expect(job.attemptsUsed == 0)
    }
}

import BerthCore
import BerthStore
import Testing

/// A write that a worker makes under its lease.
enum FencedWrite: String, CaseIterable, Sendable {
    case renewLease, recordContainer, recordStart, recordStopIntent, finishAttempt, finishAttemptAndClaim

    func perform(on store: JobStore, lease: Lease, now: Int64) throws {
        switch self {
        case .renewLease:
            _ = try store.renewLease(lease, leaseDuration: .minutes(1), now: now)
        case .recordContainer:
            try store.recordContainer(lease, name: "berth-job", id: "c0ffee", runSettings: "{}", now: now)
        case .recordStart:
            try store.recordStart(lease, now: now)
        case .recordStopIntent:
            try store.recordStopIntent(lease, intent: "timeout", now: now)
        case .finishAttempt:
            try store.finishAttempt(lease, result: AttemptResult(outcome: .succeeded, exitCode: 0), decision: .succeed, now: now)
        case .finishAttemptAndClaim:
            _ = try store.finishAttemptAndClaim(
                lease, result: AttemptResult(outcome: .succeeded, exitCode: 0), decision: .succeed,
                next: ClaimRequest(worker: lease.owner, leaseDuration: .minutes(1)), now: now)
        }
    }
}

/// A way a lease can be wrong.
enum WrongLease: String, CaseIterable, Sendable {
    case otherOwner, nextAttempt, previousAttempt, otherJob

    func applied(to lease: Lease) -> Lease {
        switch self {
        case .otherOwner: Lease(jobID: lease.jobID, attempt: lease.attempt, owner: "worker-intruder")
        case .nextAttempt: Lease(jobID: lease.jobID, attempt: lease.attempt + 1, owner: lease.owner)
        case .previousAttempt: Lease(jobID: lease.jobID, attempt: lease.attempt - 1, owner: lease.owner)
        case .otherJob: Lease(jobID: lease.jobID + 1000, attempt: lease.attempt, owner: lease.owner)
        }
    }
}

final class FencingTests {
    let directory: TemporaryDirectory
    let store: JobStore

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    /// Submits a job and claims it, twice when `attempt` is 2, and returns the live lease.
    func runningLease(attempt: Int = 2) throws -> Lease {
        let id = try store.submitOne()
        var claimed = try #require(try store.claimNext(worker: "worker-a"))
        while claimed.lease.attempt < attempt {
            try store.finishAttempt(claimed.lease, result: AttemptResult(outcome: .failed), decision: .retry(after: .zero), now: startTime)
            claimed = try #require(try store.claimNext(worker: "worker-a"))
        }
        #expect(claimed.lease.jobID == id)
        return claimed.lease
    }

    @Test(arguments: FencedWrite.allCases, WrongLease.allCases)
    func wrongLeaseRejected(write: FencedWrite, wrong: WrongLease) throws {
        let lease = try runningLease()
        let bad = wrong.applied(to: lease)

        #expect(throws: StoreError.leaseLost(bad)) {
            try write.perform(on: self.store, lease: bad, now: startTime + 10)
        }
    }

    @Test(arguments: FencedWrite.allCases, WrongLease.allCases)
    func wrongLeaseChangesNothing(write: FencedWrite, wrong: WrongLease) throws {
        let lease = try runningLease()
        let jobBefore = try store.record(lease.jobID)
        let attemptsBefore = try store.attempts(jobID: lease.jobID)

        _ = try? write.perform(on: store, lease: wrong.applied(to: lease), now: startTime + 10)

        #expect(try store.record(lease.jobID) == jobBefore)
        #expect(try store.attempts(jobID: lease.jobID) == attemptsBefore)
    }

    @Test(arguments: FencedWrite.allCases)
    func rightLeaseAccepted(write: FencedWrite) throws {
        let lease = try runningLease()

        #expect(throws: Never.self) {
            try write.perform(on: self.store, lease: lease, now: startTime + 10)
        }
    }

    @Test(arguments: FencedWrite.allCases)
    func finishedLeaseRejected(write: FencedWrite) throws {
        let lease = try runningLease()
        try store.finishAttempt(lease, result: AttemptResult(outcome: .succeeded, exitCode: 0), decision: .succeed, now: startTime + 1)

        #expect(throws: StoreError.leaseLost(lease)) {
            try write.perform(on: self.store, lease: lease, now: startTime + 10)
        }
    }

    @Test(arguments: FencedWrite.allCases)
    func reclaimedLeaseRejected(write: FencedWrite) throws {
        let id = try store.submitOne()
        let old = try #require(try store.claim(queue: nil, worker: "worker-a", leaseDuration: .seconds(10), now: startTime))
        try store.rescueExpiredLease(
            old.lease, result: AttemptResult(outcome: .lost), decision: .retry(after: .zero), now: startTime + 10_001)
        let new = try #require(try store.claimNext(worker: "worker-b", now: startTime + 10_001))

        #expect(new.lease == Lease(jobID: id, attempt: 2, owner: "worker-b"))
        #expect(throws: StoreError.leaseLost(old.lease)) {
            try write.perform(on: self.store, lease: old.lease, now: startTime + 10_002)
        }
        #expect(try store.record(id).leaseOwner == "worker-b")
    }

    @Test(arguments: FencedWrite.allCases)
    func cancelledLeaseRejected(write: FencedWrite) throws {
        let lease = try runningLease()
        try store.finishAttempt(lease, result: AttemptResult(outcome: .cancelled), decision: .cancel, now: startTime + 1)

        #expect(throws: StoreError.leaseLost(lease)) {
            try write.perform(on: self.store, lease: lease, now: startTime + 10)
        }
    }

    @Test func leaseLostMessage() {
        let lease = Lease(jobID: 7, attempt: 2, owner: "worker-a")

        #expect(StoreError.leaseLost(lease).description == "lease on job 7 attempt 2 is no longer held by worker worker-a")
    }

    @Test func renewExtendsLease() throws {
        let lease = try runningLease()

        let cancelRequested = try store.renewLease(lease, leaseDuration: .seconds(90), now: startTime + 20_000)

        #expect(cancelRequested == false)
        #expect(try store.record(lease.jobID).leaseExpiresAt == startTime + 110_000)
    }

    @Test func renewAfterTheClockSteppedBackKeepsTheLaterExpiry() throws {
        let lease = try runningLease()
        _ = try store.renewLease(lease, leaseDuration: .seconds(90), now: startTime + 20_000)

        _ = try store.renewLease(lease, leaseDuration: .seconds(90), now: startTime - 60_000)

        #expect(try store.record(lease.jobID).leaseExpiresAt == startTime + 110_000)
    }

    @Test func renewReportsCancel() throws {
        let lease = try runningLease()

        let result = try store.cancel(id: lease.jobID, now: startTime + 5)
        let cancelRequested = try store.renewLease(lease, leaseDuration: .minutes(1), now: startTime + 10)

        #expect(result == .requested)
        #expect(cancelRequested == true)
        #expect(try store.record(lease.jobID).state == .running)
    }

    @Test func renewReportsCancelRepeatedly() throws {
        let lease = try runningLease()
        _ = try store.cancel(id: lease.jobID, now: startTime + 5)

        #expect(try store.renewLease(lease, leaseDuration: .minutes(1), now: startTime + 10) == true)
        #expect(try store.renewLease(lease, leaseDuration: .minutes(1), now: startTime + 20) == true)
    }

    @Test func recordContainerStored() throws {
        let lease = try runningLease(attempt: 1)
        try store.recordContainer(lease, name: "berth-1-1", id: "abc123", runSettings: #"{"memory":"1g"}"#, now: startTime + 1)
        let attempt = try #require(try store.attempts(jobID: lease.jobID).last)

        #expect(attempt.containerName == "berth-1-1")
        #expect(attempt.containerID == "abc123")
        #expect(attempt.runSettings == #"{"memory":"1g"}"#)
    }

    @Test func recordStartStored() throws {
        let lease = try runningLease(attempt: 1)
        try store.recordStart(lease, now: startTime + 250)

        #expect(try store.attempts(jobID: lease.jobID).last?.startedAt == startTime + 250)
    }

    @Test func recordStopIntentStored() throws {
        let lease = try runningLease(attempt: 1)
        try store.recordStopIntent(lease, intent: "drain", now: startTime + 1)

        #expect(try store.attempts(jobID: lease.jobID).last?.stopIntent == "drain")
    }

    @Test func writesTouchOnlyCurrentAttempt() throws {
        let lease = try runningLease(attempt: 2)
        try store.recordStart(lease, now: startTime + 250)
        let attempts = try store.attempts(jobID: lease.jobID)

        #expect(attempts.map(\.startedAt) == [nil, startTime + 250])
    }
}

import BerthCore
import BerthStore
import Testing

final class AdminTests {
    let directory: TemporaryDirectory
    let store: JobStore
    let later = startTime + 5000

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    /// Submits a job and drives it to `state` with the store's own operations.
    func job(in state: JobState) throws -> Int64 {
        let id = try store.submitOne(makeSpec(hold: state == .held))
        switch state {
        case .held, .queued:
            return id
        case .waiting:
            // No store operation pauses a job for input yet.
            Issue.record("cannot reach waiting")
            return id
        case .cancelled:
            _ = try store.cancel(id: id, now: startTime)
            return id
        default:
            break
        }
        let claimed = try #require(try store.claimNext())
        let decision: RetryDecision? = switch state {
        case .succeeded: .succeed
        case .failed: .retry(after: .minutes(5))
        case .dead: .bury(reason: "all 1 attempts used")
        default: nil
        }
        if let decision {
            try store.finishAttempt(claimed.lease, result: AttemptResult(outcome: .failed), decision: decision, now: startTime)
        }
        #expect(try store.record(id).state == state)
        return id
    }

    @Test(arguments: [JobState.held, .queued, .failed])
    func cancelNotRunning(state: JobState) throws {
        let id = try job(in: state)

        #expect(try store.cancel(id: id, now: later) == .cancelled)
        #expect(try store.record(id).state == .cancelled)
        #expect(try store.record(id).finishedAt == later)
    }

    @Test func cancelRunningRequests() throws {
        let id = try job(in: .running)

        #expect(try store.cancel(id: id, now: later) == .requested)
        #expect(try store.record(id).state == .running)
        #expect(try store.record(id).cancelRequested == true)
        #expect(try store.record(id).finishedAt == nil)
    }

    @Test(arguments: [JobState.succeeded, .dead, .cancelled])
    func cancelFinishedRejected(state: JobState) throws {
        let id = try job(in: state)

        #expect(throws: StoreError.illegalTransition(jobID: id, IllegalTransition(transition: .cancel, state: state))) {
            try self.store.cancel(id: id, now: self.later)
        }
    }

    @Test(arguments: [JobState.failed, .dead, .cancelled])
    func retryQueuesAgain(state: JobState) throws {
        let id = try job(in: state)
        try store.retry(id: id, now: later)
        let job = try store.record(id)

        #expect(job.state == .queued)
        #expect(job.attemptsUsed == 0)
        #expect(job.runAt == later)
        #expect(job.finishedAt == nil)
        #expect(try store.claimNext(now: later)?.lease.jobID == id)
    }

    @Test(arguments: [JobState.held, .queued, .running, .succeeded])
    func retryRejected(state: JobState) throws {
        let id = try job(in: state)
        let before = try store.record(id)

        #expect(throws: StoreError.illegalTransition(jobID: id, IllegalTransition(transition: .retry, state: state))) {
            try self.store.retry(id: id, now: self.later)
        }
        #expect(try store.record(id) == before)
    }

    @Test func approveHeld() throws {
        let id = try job(in: .held)
        try store.approve(id: id, now: later)

        #expect(try store.record(id).state == .queued)
        #expect(try store.record(id).updatedAt == later)
    }

    @Test(arguments: [JobState.queued, .running, .failed, .succeeded, .dead, .cancelled])
    func approveRejected(state: JobState) throws {
        let id = try job(in: state)

        #expect(throws: StoreError.illegalTransition(jobID: id, IllegalTransition(transition: .approve, state: state))) {
            try self.store.approve(id: id, now: self.later)
        }
    }

    @Test func unknownJob() throws {
        #expect(throws: StoreError.jobNotFound(99)) { try self.store.cancel(id: 99, now: self.later) }
        #expect(throws: StoreError.jobNotFound(99)) { try self.store.retry(id: 99, now: self.later) }
        #expect(throws: StoreError.jobNotFound(99)) { try self.store.approve(id: 99, now: self.later) }
    }

    @Test func illegalTransitionMessage() {
        let error = StoreError.illegalTransition(jobID: 3, IllegalTransition(transition: .approve, state: .queued))

        #expect(error.description == "job 3: cannot approve a job in state queued; allowed from: held")
    }

    @Test func cancelledRunningJobFinishes() throws {
        let id = try job(in: .running)
        _ = try store.cancel(id: id, now: later)
        let lease = Lease(jobID: id, attempt: 1, owner: "worker-a")
        try store.finishAttempt(lease, result: AttemptResult(outcome: .cancelled, exitCode: 143), decision: .cancel, now: later + 1)
        let job = try store.record(id)

        #expect(job.state == .cancelled)
        #expect(job.cancelRequested == false)
        #expect(job.finishedAt == later + 1)
    }
}

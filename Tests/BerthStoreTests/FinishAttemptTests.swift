import BerthCore
import BerthStore
import Testing

/// An attempt's end and what the job must look like afterwards.
struct Finish: Sendable, CustomTestStringConvertible {
    let outcome: AttemptOutcome
    let exitCode: Int32?
    let decision: RetryDecision
    let state: JobState
    let attemptsUsed: Int
    let finished: Bool
    /// The job's run-at time after the finish, relative to the finish time.
    let runAtDelay: Int64?

    var testDescription: String { "\(outcome) -> \(state)" }
}

extension Finish {
    static let success = Finish(
        outcome: .succeeded, exitCode: 0, decision: .succeed, state: .succeeded, attemptsUsed: 1, finished: true, runAtDelay: nil)
    static let retryAfterFailure = Finish(
        outcome: .failed, exitCode: 1, decision: .retry(after: .seconds(30)), state: .failed, attemptsUsed: 1, finished: false,
        runAtDelay: 30_000)
    static let retryAfterOutOfMemory = Finish(
        outcome: .outOfMemory, exitCode: 137, decision: .retry(after: .zero), state: .failed, attemptsUsed: 1, finished: false,
        runAtDelay: 0)
    static let buryExitCode = Finish(
        outcome: .failed, exitCode: 2, decision: .bury(reason: "exit code 2 is listed in neverRetryExitCodes"), state: .dead,
        attemptsUsed: 1, finished: true, runAtDelay: nil)
    static let buryStartFailure = Finish(
        outcome: .startFailed, exitCode: nil, decision: .bury(reason: "start_failed is not retried"), state: .dead,
        attemptsUsed: 1, finished: true, runAtDelay: nil)
    static let cancel = Finish(
        outcome: .cancelled, exitCode: 143, decision: .cancel, state: .cancelled, attemptsUsed: 1, finished: true, runAtDelay: nil)
    static let requeue = Finish(
        outcome: .interrupted, exitCode: 143, decision: .requeue, state: .queued, attemptsUsed: 0, finished: false, runAtDelay: 0)
}

let finishes: [Finish] = [
    .success, .retryAfterFailure, .retryAfterOutOfMemory, .buryExitCode, .buryStartFailure, .cancel, .requeue,
]

final class FinishAttemptTests {
    let directory: TemporaryDirectory
    let store: JobStore
    let finishTime = startTime + 45_000

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    /// Submits a job, claims it and ends its first attempt with the outcome and decision of `finish`.
    func finishFirstAttempt(_ finish: Finish, message: String? = "exited") throws -> Int64 {
        let id = try store.submitOne()
        let claimed = try #require(try store.claimNext(worker: "worker-a"))
        let result = AttemptResult(outcome: finish.outcome, exitCode: finish.exitCode, message: message)
        try store.finishAttempt(claimed.lease, result: result, decision: finish.decision, now: finishTime)
        return id
    }

    @Test(arguments: finishes)
    func stateFollowsDecision(finish: Finish) throws {
        let id = try finishFirstAttempt(finish)

        #expect(try store.record(id).state == finish.state)
        #expect(try store.record(id).state == JobState.running.applying(finish.decision.transition))
    }

    @Test(arguments: finishes)
    func attemptsCounted(finish: Finish) throws {
        let id = try finishFirstAttempt(finish)
        let job = try store.record(id)

        #expect(job.attemptsUsed == finish.attemptsUsed)
        #expect(job.attempt == 1)
    }

    @Test(arguments: finishes)
    func finishedAtSet(finish: Finish) throws {
        let id = try finishFirstAttempt(finish)

        #expect(try store.record(id).finishedAt == (finish.finished ? finishTime : nil))
    }

    @Test(arguments: finishes)
    func runAtSet(finish: Finish) throws {
        let id = try finishFirstAttempt(finish)
        let expected = finish.runAtDelay.map { finishTime + $0 } ?? startTime

        #expect(try store.record(id).runAt == expected)
    }

    @Test(arguments: finishes)
    func leaseCleared(finish: Finish) throws {
        let id = try finishFirstAttempt(finish)
        let job = try store.record(id)

        #expect(job.leaseOwner == nil)
        #expect(job.leaseExpiresAt == nil)
        #expect(job.cancelRequested == false)
        #expect(job.updatedAt == finishTime)
    }

    @Test(arguments: finishes)
    func attemptRecorded(finish: Finish) throws {
        let id = try finishFirstAttempt(finish, message: "the message")
        let attempt = try #require(try store.attempts(jobID: id).first)

        #expect(attempt.outcome == finish.outcome)
        #expect(attempt.exitCode == finish.exitCode)
        #expect(attempt.message == "the message")
        #expect(attempt.finishedAt == finishTime)
    }

    @Test func buryKeepsReason() throws {
        let id = try finishFirstAttempt(.buryExitCode, message: "exited with 2")

        #expect(try store.record(id).lastError == "exited with 2; exit code 2 is listed in neverRetryExitCodes")
    }

    @Test func buryWithoutMessage() throws {
        let id = try finishFirstAttempt(.buryExitCode, message: nil)

        #expect(try store.record(id).lastError == "exit code 2 is listed in neverRetryExitCodes")
    }

    @Test func retryKeepsMessage() throws {
        let id = try finishFirstAttempt(.retryAfterFailure, message: "exited with 1")

        #expect(try store.record(id).lastError == "exited with 1")
    }

    @Test func successLeavesNoError() throws {
        let id = try finishFirstAttempt(.success, message: "done")

        #expect(try store.record(id).lastError == nil)
    }

    /// A cancel requested while the attempt was ending on its own wins over a
    /// retry or requeue. A success or a burial keeps its own final state.
    @Test(arguments: [
        (Finish.retryAfterFailure, JobState.cancelled), (.requeue, .cancelled), (.success, .succeeded), (.buryExitCode, .dead),
    ])
    func cancelRequestedDuringFinish(finish: Finish, expected: JobState) throws {
        let id = try store.submitOne()
        let claimed = try #require(try store.claimNext(worker: "worker-a"))
        #expect(try store.cancel(id: id, now: finishTime - 1) == .requested)

        let result = AttemptResult(outcome: finish.outcome, exitCode: finish.exitCode, message: "exited")
        try store.finishAttempt(claimed.lease, result: result, decision: finish.decision, now: finishTime)

        let job = try store.record(id)
        #expect(job.state == expected)
        #expect(job.finishedAt == finishTime)
        #expect(try store.claimNext(now: finishTime + 60_000) == nil)
    }

    @Test func cancelRequestedBeforePauseForInput() throws {
        let id = try store.submitOne()
        let claimed = try #require(try store.claimNext(worker: "worker-a"))
        #expect(try store.cancel(id: id, now: finishTime - 1) == .requested)

        let result = AttemptResult(outcome: .waitingForInput, exitCode: 0, message: nil)
        try store.pauseForInput(claimed.lease, result: result, pendingInput: #"{"question":"go?"}"#, now: finishTime)

        #expect(try store.record(id).state == .cancelled)
        #expect(try store.record(id).pendingInput == nil)
    }

    /// The error of an earlier attempt stays in the attempt's record, not on a job that succeeded.
    @Test func successClearsEarlierError() throws {
        let id = try finishFirstAttempt(.retryAfterFailure, message: "exited with 1")
        let second = try #require(try store.claimNext(now: finishTime + 30_000))
        try store.finishAttempt(
            second.lease, result: AttemptResult(outcome: .succeeded, exitCode: 0, message: nil), decision: .succeed,
            now: finishTime + 31_000)

        #expect(try store.record(id).lastError == nil)
        #expect(try store.attempts(jobID: id).first?.message == "exited with 1")
    }

    @Test func retryWaitsForBackoff() throws {
        let id = try finishFirstAttempt(.retryAfterFailure)

        #expect(try store.claimNext(now: finishTime + 29_999) == nil)
        #expect(try store.claimNext(now: finishTime + 30_000)?.lease.jobID == id)
    }

    @Test func requeueClaimableAtOnce() throws {
        let id = try finishFirstAttempt(.requeue)
        let next = try #require(try store.claimNext(now: finishTime))

        #expect(next.lease == Lease(jobID: id, attempt: 2, owner: "worker-a"))
        #expect(next.attemptsUsed == 0)
    }

    @Test func finishTwiceRejected() throws {
        _ = try store.submitOne()
        let claimed = try #require(try store.claimNext())
        try store.finishAttempt(claimed.lease, result: AttemptResult(outcome: .succeeded), decision: .succeed, now: finishTime)

        #expect(throws: StoreError.leaseLost(claimed.lease)) {
            try self.store.finishAttempt(claimed.lease, result: AttemptResult(outcome: .failed), decision: .bury(reason: "x"), now: finishTime)
        }
    }

    @Test func attemptsUsedAcrossRuns() throws {
        let id = try store.submitOne()
        let steps: [(AttemptOutcome, RetryDecision, usedBefore: Int)] = [
            (.failed, .retry(after: .zero), 0),
            (.interrupted, .requeue, 1),
            (.lost, .retry(after: .zero), 1),
            (.interrupted, .requeue, 2),
            (.succeeded, .succeed, 2),
        ]
        for (outcome, decision, usedBefore) in steps {
            let claimed = try #require(try store.claimNext(now: finishTime))
            #expect(claimed.attemptsUsed == usedBefore)
            try store.finishAttempt(claimed.lease, result: AttemptResult(outcome: outcome), decision: decision, now: finishTime)
        }
        let job = try store.record(id)

        #expect(job.state == .succeeded)
        #expect(job.attempt == 5)
        #expect(job.attemptsUsed == 3)
    }

    @Test func policyDrivesJobToDead() throws {
        let policy = RetryPolicy(
            maxAttempts: 2, initialDelay: .seconds(1), maxDelay: .seconds(10), multiplier: 2, jitter: 0,
            retryOn: [.failed], neverRetryExitCodes: [])
        let id = try store.submitOne()
        var now = startTime
        var states: [JobState] = []
        while let claimed = try store.claimNext(now: now) {
            let decision = policy.decide(outcome: .failed, exitCode: 1, attemptsUsed: claimed.attemptsUsed + 1, unitRandom: 0.5)
            try store.finishAttempt(claimed.lease, result: AttemptResult(outcome: .failed, exitCode: 1), decision: decision, now: now)
            states.append(try store.record(id).state)
            now += 60_000
        }

        #expect(states == [.failed, .dead])
        #expect(try store.record(id).attemptsUsed == 2)
        #expect(try store.record(id).lastError == "all 2 attempts used")
    }
}

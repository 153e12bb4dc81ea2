import BerthCore
import Testing

struct RetryPolicyTests {
    /// 10 s doubling up to 10 min, 20 % jitter, retrying failed, out_of_memory, timed_out and lost.
    let standard = RetryPolicy.standard

    func policy(
        maxAttempts: Int = 5, initialDelay: TimeSpan = .seconds(1), maxDelay: TimeSpan = .minutes(1),
        multiplier: Double = 2, jitter: Double = 0, retryOn: Set<AttemptOutcome> = [.failed, .outOfMemory, .timedOut, .lost],
        neverRetryExitCodes: Set<Int32> = []
    ) -> RetryPolicy {
        RetryPolicy(
            maxAttempts: maxAttempts, initialDelay: initialDelay, maxDelay: maxDelay, multiplier: multiplier,
            jitter: jitter, retryOn: retryOn, neverRetryExitCodes: neverRetryExitCodes)
    }

    static let growth: [(attempt: Int, seconds: Int64)] = [
        (1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 320), (7, 600), (8, 600), (50, 600),
    ]

    @Test(arguments: growth)
    func backoffGrowth(attempt: Int, seconds: Int64) {
        #expect(standard.baseDelay(afterAttempt: attempt) == .seconds(seconds))
    }

    @Test func backoffBeforeFirstAttempt() {
        #expect(standard.baseDelay(afterAttempt: 0) == .seconds(10))
        #expect(standard.baseDelay(afterAttempt: -3) == .seconds(10))
    }

    @Test func backoffFractionalMultiplier() {
        let slow = policy(initialDelay: .seconds(2), maxDelay: .hours(1), multiplier: 1.5)

        #expect(slow.baseDelay(afterAttempt: 3) == .milliseconds(4500))
    }

    @Test func backoffCapBelowInitialDelay() {
        let capped = policy(initialDelay: .minutes(5), maxDelay: .minutes(1))

        #expect(capped.baseDelay(afterAttempt: 1) == .minutes(1))
    }

    @Test(.timeLimit(.minutes(1)), arguments: [Int.max, Int.max - 1, 1 << 40])
    func backoffSaturatesHugeAttempt(attempt: Int) {
        #expect(standard.baseDelay(afterAttempt: attempt) == .minutes(10))
        #expect(policy(multiplier: 100).baseDelay(afterAttempt: attempt) == .minutes(1))
        #expect(policy(initialDelay: .milliseconds(1), maxDelay: .days(30), multiplier: 1e300).baseDelay(afterAttempt: attempt) == .days(30))
    }

    @Test(.timeLimit(.minutes(1)))
    func backoffConstantMultiplierHugeAttempt() {
        #expect(policy(multiplier: 1).baseDelay(afterAttempt: .max) == .seconds(1))
    }

    @Test(.timeLimit(.minutes(1)))
    func backoffShrinkingMultiplierKeepsInitial() {
        #expect(policy(multiplier: 0.5).baseDelay(afterAttempt: .max) == .seconds(1))
        #expect(policy(multiplier: 0).baseDelay(afterAttempt: 4) == .seconds(1))
    }

    @Test(.timeLimit(.minutes(1)))
    func backoffZeroInitialDelayHugeAttempt() {
        #expect(policy(initialDelay: .zero).baseDelay(afterAttempt: .max) == .zero)
    }

    @Test(.timeLimit(.minutes(1)))
    func backoffMaximumDelayBounds() {
        let longest = policy(initialDelay: .days(30), maxDelay: .days(30), multiplier: 100, jitter: 1)

        #expect(longest.baseDelay(afterAttempt: .max) == .days(30))
        #expect(longest.delay(afterAttempt: .max, unitRandom: 0) == .days(30))
    }

    @Test(arguments: [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999_999])
    func jitterWithinBounds(unitRandom: Double) {
        let base = standard.baseDelay(afterAttempt: 3).milliseconds
        let delay = standard.delay(afterAttempt: 3, unitRandom: unitRandom).milliseconds

        #expect(delay <= base)
        #expect(Double(delay) >= Double(base) * (1 - standard.jitter) - 1)
    }

    @Test func jitterZeroRandomKeepsBase() {
        #expect(standard.delay(afterAttempt: 2, unitRandom: 0) == .seconds(20))
    }

    @Test func jitterTakesFraction() {
        // 20 % jitter at a random of 0.5 takes 10 % off 40 s.
        #expect(standard.delay(afterAttempt: 3, unitRandom: 0.5) == .seconds(36))
    }

    @Test func jitterClampsRandom() {
        #expect(standard.delay(afterAttempt: 1, unitRandom: -1) == .seconds(10))
        #expect(standard.delay(afterAttempt: 1, unitRandom: 7) == .seconds(8))
    }

    @Test func jitterClampsFraction() {
        #expect(policy(jitter: 5).delay(afterAttempt: 1, unitRandom: 0.5) == .milliseconds(500))
        #expect(policy(jitter: -1).delay(afterAttempt: 1, unitRandom: 0.5) == .seconds(1))
    }

    @Test func jitterDisabled() {
        #expect(policy(jitter: 0).delay(afterAttempt: 2, unitRandom: 0.9) == .seconds(2))
    }

    @Test func decideSuccess() {
        #expect(standard.decide(outcome: .succeeded, exitCode: 0, attemptsUsed: 1, unitRandom: 0) == .succeed)
    }

    @Test func decideCancelled() {
        #expect(standard.decide(outcome: .cancelled, exitCode: 143, attemptsUsed: 1, unitRandom: 0) == .cancel)
    }

    @Test func decideInterruptedRequeues() {
        #expect(standard.decide(outcome: .interrupted, exitCode: 143, attemptsUsed: 0, unitRandom: 0) == .requeue)
    }

    @Test func decideInterruptedIgnoresExhaustedAttempts() {
        #expect(standard.decide(outcome: .interrupted, exitCode: nil, attemptsUsed: 99, unitRandom: 0) == .requeue)
    }

    @Test(arguments: [AttemptOutcome.failed, .outOfMemory, .timedOut, .lost])
    func decideRetryableOutcome(outcome: AttemptOutcome) {
        let decision = standard.decide(outcome: outcome, exitCode: 1, attemptsUsed: 1, unitRandom: 0)

        #expect(decision == .retry(after: .seconds(10)))
    }

    @Test func decideRetryAppliesJitter() {
        let decision = standard.decide(outcome: .failed, exitCode: 1, attemptsUsed: 2, unitRandom: 0.5)

        #expect(decision == .retry(after: .seconds(18)))
    }

    @Test func decideStartFailedBuries() {
        let everything = policy(retryOn: Set(AttemptOutcome.allCases))
        let decision = everything.decide(outcome: .startFailed, exitCode: nil, attemptsUsed: 1, unitRandom: 0)

        #expect(decision == .bury(reason: "start_failed is never retried"))
    }

    @Test func decideOutcomeNotInRetryOn() {
        let timeoutsOnly = policy(retryOn: [.timedOut])
        let decision = timeoutsOnly.decide(outcome: .outOfMemory, exitCode: 137, attemptsUsed: 1, unitRandom: 0)

        #expect(decision == .bury(reason: "out_of_memory is not retried by this job's policy"))
    }

    @Test func decideNeverRetryExitCode() {
        let strict = policy(neverRetryExitCodes: [2, 64])
        let decision = strict.decide(outcome: .failed, exitCode: 64, attemptsUsed: 1, unitRandom: 0)

        #expect(decision == .bury(reason: "exit code 64 is listed in neverRetryExitCodes"))
    }

    @Test func decideOtherExitCodeRetries() {
        let strict = policy(neverRetryExitCodes: [2, 64])
        let decision = strict.decide(outcome: .failed, exitCode: 1, attemptsUsed: 1, unitRandom: 0)

        #expect(decision == .retry(after: .seconds(1)))
    }

    @Test func decideAttemptsExhausted() {
        let decision = standard.decide(outcome: .failed, exitCode: 1, attemptsUsed: 3, unitRandom: 0)

        #expect(decision == .bury(reason: "all 3 attempts used"))
    }

    @Test func decideLastAttemptRemaining() {
        let decision = standard.decide(outcome: .failed, exitCode: 1, attemptsUsed: 2, unitRandom: 0)

        #expect(decision == .retry(after: .seconds(20)))
    }

    @Test func decideSingleAttempt() {
        let once = policy(maxAttempts: 1)
        let decision = once.decide(outcome: .lost, exitCode: nil, attemptsUsed: 1, unitRandom: 0)

        #expect(decision == .bury(reason: "its only attempt used"))
    }

    @Test(.timeLimit(.minutes(1)))
    func decideHugeAttemptCount() {
        let endless = policy(maxAttempts: .max, multiplier: 1)

        #expect(standard.decide(outcome: .failed, exitCode: 1, attemptsUsed: .max, unitRandom: 0) == .bury(reason: "all 3 attempts used"))
        #expect(endless.decide(outcome: .failed, exitCode: 1, attemptsUsed: .max - 1, unitRandom: 0) == .retry(after: .seconds(1)))
    }

    @Test func neverRetriedOutcomes() {
        #expect(RetryPolicy.neverRetried == [.succeeded, .cancelled, .startFailed, .interrupted, .waitingForInput])
    }

    static let transitions: [(decision: RetryDecision, transition: JobTransition)] = [
        (.succeed, .succeed),
        (.retry(after: .seconds(1)), .scheduleRetry),
        (.bury(reason: "x"), .bury),
        (.cancel, .cancel),
        (.requeue, .requeue),
    ]

    @Test(arguments: transitions)
    func decisionTransition(decision: RetryDecision, transition: JobTransition) {
        #expect(decision.transition == transition)
    }

    @Test(arguments: transitions)
    func decisionLegalFromRunning(decision: RetryDecision, transition: JobTransition) {
        #expect(throws: Never.self) { try JobState.running.applying(decision.transition) }
    }

    @Test func overridesApplied() {
        let overrides = JobSpec.RetryOverrides(maxAttempts: 7, multiplier: 3, retryOn: [.lost], neverRetryExitCodes: [3, 3])
        let applied = overrides.applied(to: standard)

        #expect(applied.maxAttempts == 7)
        #expect(applied.multiplier == 3)
        #expect(applied.retryOn == [.lost])
        #expect(applied.neverRetryExitCodes == [3])
        #expect(applied.initialDelay == standard.initialDelay)
        #expect(applied.maxDelay == standard.maxDelay)
        #expect(applied.jitter == standard.jitter)
    }

    @Test func overridesEmptyKeepBase() {
        #expect(JobSpec.RetryOverrides().applied(to: standard) == standard)
    }
}

extension TimeSpan {
    static func milliseconds(_ count: Int64) -> TimeSpan { TimeSpan(milliseconds: count) }
}

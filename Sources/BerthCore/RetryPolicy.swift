/// When and how often a failed job runs again.
///
/// The delay before retry `n` (counting from 1) is
/// `initialDelay * multiplier^(n-1)`, capped at `maxDelay`, then lowered by up
/// to `jitter` of itself at random so that many jobs failing together do not
/// retry together.
public struct RetryPolicy: Hashable, Sendable {
    public var maxAttempts: Int
    public var initialDelay: TimeSpan
    public var maxDelay: TimeSpan
    public var multiplier: Double
    /// Fraction of the delay, from 0 to 1, that may be taken off at random.
    public var jitter: Double
    /// Outcomes that may be retried. Success, cancellation, an interruption by
    /// the daemon and a failure to start never retry.
    public var retryOn: Set<AttemptOutcome>
    /// Exit codes that mean the job must not run again, whatever attempts remain.
    public var neverRetryExitCodes: Set<Int32>

    public static let standard = RetryPolicy(
        maxAttempts: 3,
        initialDelay: .seconds(10),
        maxDelay: .minutes(10),
        multiplier: 2,
        jitter: 0.2,
        retryOn: [.failed, .outOfMemory, .timedOut, .lost],
        neverRetryExitCodes: []
    )

    public init(
        maxAttempts: Int, initialDelay: TimeSpan, maxDelay: TimeSpan, multiplier: Double,
        jitter: Double, retryOn: Set<AttemptOutcome>, neverRetryExitCodes: Set<Int32>
    ) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = multiplier
        self.jitter = jitter
        self.retryOn = retryOn
        self.neverRetryExitCodes = neverRetryExitCodes
    }

    /// Outcomes that never retry, whatever `retryOn` contains.
    public static let neverRetried: Set<AttemptOutcome> = [.succeeded, .cancelled, .startFailed, .interrupted, .waitingForInput]

    /// The backoff before the retry that follows attempt number `attemptsUsed`
    /// (1 after the first failure), before jitter. Saturates at `maxDelay`
    /// instead of overflowing. A multiplier of 1 or less keeps `initialDelay`.
    public func baseDelay(afterAttempt attemptsUsed: Int) -> TimeSpan {
        let cap = Double(max(maxDelay.milliseconds, 0))
        var delay = Double(max(initialDelay.milliseconds, 0))
        var step = 1
        while step < attemptsUsed, delay < cap {
            // A delay that stops growing (zero, or a multiplier of 1 or less)
            // would otherwise keep this loop going for up to Int.max attempts.
            let next = delay * multiplier
            guard next > delay else { break }
            delay = next
            step += 1
        }
        return TimeSpan(milliseconds: Int64(min(delay, cap).rounded()))
    }

    /// The backoff with jitter applied; `unitRandom` is a number in `0..<1`.
    public func delay(afterAttempt attemptsUsed: Int, unitRandom: Double) -> TimeSpan {
        let base = Double(baseDelay(afterAttempt: attemptsUsed).milliseconds)
        let clampedJitter = min(max(jitter, 0), 1)
        let clampedRandom = min(max(unitRandom, 0), 1)
        let reduction = base * clampedJitter * clampedRandom
        return TimeSpan(milliseconds: Int64((base - reduction).rounded()))
    }

    /// Decides what follows an attempt that ended with `outcome`.
    ///
    /// - Parameters:
    ///   - attemptsUsed: attempts counted so far, including this one when it counts.
    ///   - unitRandom: a number in `0..<1` for the jitter.
    public func decide(
        outcome: AttemptOutcome, exitCode: Int32?, attemptsUsed: Int, unitRandom: Double
    ) -> RetryDecision {
        switch outcome {
        case .succeeded:
            return .succeed
        case .cancelled:
            return .cancel
        case .interrupted:
            return .requeue
        default:
            break
        }

        if Self.neverRetried.contains(outcome) {
            return .bury(reason: "\(outcome) is never retried")
        }
        if !retryOn.contains(outcome) {
            return .bury(reason: "\(outcome) is not retried by this job's policy")
        }
        if let exitCode, outcome == .failed, neverRetryExitCodes.contains(exitCode) {
            return .bury(reason: "exit code \(exitCode) is listed in neverRetryExitCodes")
        }
        if attemptsUsed >= maxAttempts {
            return .bury(reason: maxAttempts == 1 ? "its only attempt used" : "all \(maxAttempts) attempts used")
        }
        return .retry(after: delay(afterAttempt: attemptsUsed, unitRandom: unitRandom))
    }
}

/// What the retry policy decided for a job after one of its attempts.
public enum RetryDecision: Equatable, Sendable {
    case succeed
    case retry(after: TimeSpan)
    case bury(reason: String)
    case cancel
    /// Back to the queue without using up an attempt.
    case requeue

    /// The job transition that carries out this decision.
    public var transition: JobTransition {
        switch self {
        case .succeed: .succeed
        case .retry: .scheduleRetry
        case .bury: .bury
        case .cancel: .cancel
        case .requeue: .requeue
        }
    }
}

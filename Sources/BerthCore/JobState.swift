/// The life cycle of a job.
///
/// A job starts `queued` (or `held`, waiting for approval), becomes `running`
/// when a worker claims it, and ends `succeeded`, `dead` or `cancelled`.
/// Between attempts it sits in `failed` until its backoff delay has passed.
/// The transitions themselves are listed in `JobTransition`.
public enum JobState: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// Submitted with a hold; runs only after `berth approve`.
    case held
    /// Ready to be claimed once its run-at time has come.
    case queued
    /// Claimed by a worker under a lease.
    case running
    /// A run paused for operator input; `berth answer` queues it again.
    case waiting
    /// An attempt failed and the job is scheduled for a retry at its run-at time.
    case failed
    case succeeded
    /// Attempts exhausted, or a failure that must not be retried.
    case dead
    case cancelled

    /// States a worker may claim from, once the run-at time has come.
    public static let claimable: [JobState] = [.queued, .failed]

    /// States in which a job has ended and holds no worker's attention.
    public static let finished: [JobState] = [.succeeded, .dead, .cancelled]

    public var isFinished: Bool { Self.finished.contains(self) }

    public var description: String { rawValue }
}

/// A change of job state, with the states it may start from.
///
/// The store builds the `WHERE state IN (…)` clause of each update from
/// `sources`, so the SQL cannot allow a transition that this table rejects.
public enum JobTransition: String, CaseIterable, Sendable {
    /// `berth approve`: a held job may now run.
    case approve
    /// A worker takes the job under a lease.
    case claim
    /// The attempt succeeded.
    case succeed
    /// The attempt failed and the retry policy allows another one.
    case scheduleRetry
    /// The attempt failed and no attempt remains, or the failure must not retry.
    case bury
    /// The job stops for good at an operator's request.
    case cancel
    /// The run stopped to wait for operator input.
    case pauseForInput
    /// An operator answered a waiting job, which is queued to resume.
    case answer
    /// The daemon stopped the attempt itself (drain or shutdown); the job goes
    /// back to the queue without using up an attempt.
    case requeue
    /// `berth retry`: a failed, dead or cancelled job is queued again.
    case retry
    /// `berth resume`: a job that failed or ended is queued again to continue
    /// from a checkpoint, also after it succeeded.
    case resume

    public var sources: Set<JobState> {
        switch self {
        case .approve: [.held]
        case .claim: Set(JobState.claimable)
        case .succeed, .scheduleRetry, .bury, .pauseForInput, .requeue: [.running]
        case .cancel: [.held, .queued, .failed, .waiting, .running]
        case .answer: [.waiting]
        case .retry: [.failed, .dead, .cancelled]
        case .resume: [.failed, .succeeded, .dead, .cancelled]
        }
    }

    public var target: JobState {
        switch self {
        case .approve, .answer, .requeue, .retry, .resume: .queued
        case .claim: .running
        case .succeed: .succeeded
        case .scheduleRetry: .failed
        case .bury: .dead
        case .cancel: .cancelled
        case .pauseForInput: .waiting
        }
    }
}

/// A transition that the job's current state does not allow.
public struct IllegalTransition: Error, Equatable, CustomStringConvertible {
    public let transition: JobTransition
    public let state: JobState

    public init(transition: JobTransition, state: JobState) {
        self.transition = transition
        self.state = state
    }

    public var description: String {
        let allowed = transition.sources.map(\.rawValue).sorted().joined(separator: ", ")
        return "cannot \(transition.rawValue) a job in state \(state.rawValue); allowed from: \(allowed)"
    }
}

extension JobState {
    /// Returns the state after `transition`, or throws when this state does not allow it.
    public func applying(_ transition: JobTransition) throws(IllegalTransition) -> JobState {
        guard transition.sources.contains(self) else {
            throw IllegalTransition(transition: transition, state: self)
        }
        return transition.target
    }
}

import BerthCore
import BerthStore

/// What the daemon asks before each attempt and after each container exit,
/// so checkpoint capture and resumption can plug into the attempt's life.
public protocol ResumeHook: Sendable {
    /// Prepares the workspace for an attempt and returns extra environment
    /// variables and the checkpoint the attempt resumes from, if any.
    func prepareAttempt(_ job: ClaimedJob, workspace: String) async throws -> AttemptPreparation

    /// Called after each output batch and once more when the container exited.
    func afterOutput(_ job: ClaimedJob, workspace: String, events: [StoredLine], containerExited: Bool) async
}

/// Additions to an attempt's container that a `ResumeHook` decides.
public struct AttemptPreparation: Sendable {
    public var environment: [String: String]
    /// Replacement argv for the container, for adapters that build their own command line.
    public var command: [String]?
    public var resumedFrom: Int64?

    public init(environment: [String: String] = [:], command: [String]? = nil, resumedFrom: Int64? = nil) {
        self.environment = environment
        self.command = command
        self.resumedFrom = resumedFrom
    }
}

/// The generic adapter's hook before checkpoints are captured: tells the job
/// its id, attempt and checkpoint directory, and resumes nothing.
public struct GenericResumeHook: ResumeHook {
    /// The checkpoint directory, relative to the workspace.
    public static let checkpointDirectory = "checkpoints"

    public init() {}

    public func prepareAttempt(_ job: ClaimedJob, workspace: String) async throws -> AttemptPreparation {
        AttemptPreparation(environment: [
            "BERTH_JOB_ID": "\(job.lease.jobID)",
            "BERTH_ATTEMPT": "\(job.lease.attempt)",
            "BERTH_CHECKPOINT_DIR": "/workspace/\(Self.checkpointDirectory)",
        ])
    }

    public func afterOutput(_ job: ClaimedJob, workspace: String, events: [StoredLine], containerExited: Bool) async {}
}

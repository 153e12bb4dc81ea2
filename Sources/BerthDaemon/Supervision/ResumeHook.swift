import BerthCore
import BerthStore

/// The link between checkpoint capture and an attempt's life. The runner
/// calls the hook before the container starts, and an observer made by the
/// hook reads the attempt's output and decides how it ended.
public protocol ResumeHook: Sendable {
    /// Prepares the workspace for an attempt (creating the adapter's
    /// directories, and restoring stored checkpoints where needed) and returns
    /// the container's additions, including the checkpoint the attempt
    /// resumes from, which is already recorded.
    func prepareAttempt(_ job: ClaimedJob, workspace: String) async throws -> AttemptPreparation

    /// Makes the observer of one attempt's output. `preparation` is nil for a
    /// container adopted after a restart.
    func makeObserver(for job: ClaimedJob, workspace: String, preparation: AttemptPreparation?) -> any AttemptObserver
}

/// Sees one attempt's output as it is stored, captures the checkpoints it
/// announces, and concludes the attempt's outcome.
///
/// `OutputPump` calls it from the threads that read the container's output,
/// one write at a time; the capture methods block on the file system.
public protocol AttemptObserver: Sendable {
    /// Takes in one standard output line before it is stored, also a line past
    /// the output cap that is not stored. Returns whether checkpoints must be
    /// captured with the batch that contains this line.
    func observe(line: String, truncated: Bool) -> Bool

    /// Captures new checkpoint files, to be committed with the next batch;
    /// `final` once after the container exited.
    func captureForBatch(final: Bool) -> CapturedCheckpoints

    /// Notes that the batch with `captured` was committed.
    func committed(_ captured: CapturedCheckpoints)

    /// Deletes the stored files of a batch that could not be committed, so
    /// that the next scan captures those files again.
    func discarded(_ captured: CapturedCheckpoints)

    /// Decides how the attempt ended from the daemon's `classified` result and
    /// the events seen.
    func conclude(_ classified: AttemptResult, intent: StopIntent?, exit: ContainerExit) -> AttemptConclusion
}

/// Checkpoint rows captured for one output batch.
public struct CapturedCheckpoints: Sendable {
    public var checkpoints: [NewCheckpoint]
    /// Files added to the checkpoint store by this capture.
    var createdFiles: [String]

    public static let none = CapturedCheckpoints(checkpoints: [], createdFiles: [])
}

/// Additions to an attempt's container that a `ResumeHook` decides.
public struct AttemptPreparation: Sendable {
    public var environment: [String: String]
    /// Replacement argv for the container, for adapters that build their own command line.
    public var command: [String]?
    /// The checkpoint (checkpoints.id) the attempt resumes from.
    public var resumedFrom: Int64?
    /// Host files mounted read-only into the container.
    public var readOnlyMounts: [ReadOnlyMount]
    /// The checkpoint directory's files when the attempt starts, which
    /// capture leaves alone until they change.
    var checkpointBaseline: [String: FileIdentity]? = nil

    public init(
        environment: [String: String] = [:], command: [String]? = nil, resumedFrom: Int64? = nil,
        readOnlyMounts: [ReadOnlyMount] = []
    ) {
        self.environment = environment
        self.command = command
        self.resumedFrom = resumedFrom
        self.readOnlyMounts = readOnlyMounts
    }
}

/// A host file or directory mounted read-only into the container.
public struct ReadOnlyMount: Sendable, Equatable {
    public var hostPath: String
    public var containerPath: String

    public init(hostPath: String, containerPath: String) {
        self.hostPath = hostPath
        self.containerPath = containerPath
    }

    /// The engine flag, such as `--volume=/run/berth/perstack.env:/berth/perstack.env:ro`.
    /// Both paths are the daemon's own, never a job's, and must be absolute
    /// without ':' or ',', which the flag's syntax would misread.
    var engineFlag: String? {
        for path in [hostPath, containerPath] {
            guard path.hasPrefix("/"), !path.contains(":"), !path.contains(","), !path.contains("\0") else { return nil }
        }
        return "--volume=\(hostPath):\(containerPath):ro"
    }
}

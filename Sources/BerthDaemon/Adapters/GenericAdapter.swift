import BerthCore
import BerthStore
import Foundation

/// The adapter for any image that prints JSON lines.
///
/// The job writes checkpoint files into `$BERTH_CHECKPOINT_DIR`, each one
/// atomically (write a temporary file, then rename it). A resumed attempt
/// finds the file to continue from in `$BERTH_RESUME_FROM`. An event
/// `{"type":"checkpoint","name":…}` makes the daemon capture at once;
/// without it, files are captured when the container exits.
struct GenericAdapter: JobAdapter {
    /// The checkpoint directory, relative to the workspace.
    static let checkpointDirectoryName = "checkpoints"
    /// The type of the event that requests an immediate capture; `mayConcern` searches for the same text.
    static let checkpointEventType = "checkpoint"

    var checkpointDirectory: [String] { [Self.checkpointDirectoryName] }
    var workspaceSubdirectories: [String] { [Self.checkpointDirectoryName] }

    func decide(name: String) -> CheckpointNameDecision {
        Self.isTemporary(name) ? .ignore : .capture
    }

    /// Content is opaque to berth, except that a `.json` file must parse, so
    /// a file cut short by a kill during a non-atomic write is never resumed from.
    func inspect(_ content: [UInt8], name: String) -> CheckpointInspection {
        guard name.hasSuffix(".json") else { return .valid() }
        let parses = (try? JSONSerialization.jsonObject(with: Data(content), options: [.fragmentsAllowed])) != nil
        return parses ? .valid() : .invalidJSON(content)
    }

    let contentRequirement = "a .json file must parse as JSON"

    func resumeProblem(_ checkpoint: CheckpointRecord, answeredCheckpoint: Int64?) -> String? {
        nil
    }

    func preparation(for job: ClaimedJob, resumingFrom checkpoint: CheckpointRecord?, answer: InputAnswer?, environmentFile: String) -> AttemptPreparation {
        let directory = ContainerPaths.workspace + "/" + Self.checkpointDirectoryName
        var environment = ContainerPaths.jobEnvironment(job)
        environment["BERTH_CHECKPOINT_DIR"] = directory
        if let checkpoint {
            environment["BERTH_RESUME_FROM"] = directory + "/" + checkpoint.name
        }
        return AttemptPreparation(environment: environment, resumedFrom: checkpoint?.id)
    }

    func makeTracker() -> any EventTracker {
        GenericEventTracker()
    }
}

/// Captures on `{"type":"checkpoint"}` and leaves the outcome to the daemon's classification.
struct GenericEventTracker: EventTracker {
    func mayConcern(_ line: String) -> Bool {
        line.containsUTF8("checkpoint")
    }

    mutating func observe(_ event: [String: Any]) -> Bool {
        event["type"] as? String == GenericAdapter.checkpointEventType
    }

    mutating func observeTruncated(_ line: String) {}

    func conclude(_ classified: AttemptResult, intent: StopIntent?, exit: ContainerExit, captured: [NewCheckpoint]) -> AttemptConclusion {
        .finished(classified, retryable: true)
    }
}

/// Paths and variables every job container sees.
enum ContainerPaths {
    static let workspace = "/workspace"

    /// `BERTH_JOB_ID` and `BERTH_ATTEMPT`, which every adapter sets.
    static func jobEnvironment(_ job: ClaimedJob) -> [String: String] {
        ["BERTH_JOB_ID": "\(job.lease.jobID)", "BERTH_ATTEMPT": "\(job.lease.attempt)"]
    }
}

import BerthCore
import BerthStore

/// How berth works with the program of one adapter type: where it writes
/// checkpoints, which of them an attempt resumes from, how the container is
/// started, and how its events decide the attempt's outcome.
///
/// An adapter is made per job (`JobAdapters.adapter(for:jobID:)`) and has no
/// mutable state. The state of one attempt lives in its `EventTracker`.
protocol JobAdapter: CheckpointFilePolicy {
    /// The checkpoint directory relative to the workspace, one path component each.
    var checkpointDirectory: [String] { get }
    /// Directories to create in the workspace before the container starts,
    /// owned by the container's user.
    var workspaceSubdirectories: [String] { get }

    /// The rule that `inspect` checks content against. `berth checkpoints`
    /// shows it for an invalid checkpoint, because the exact problem is not stored.
    var contentRequirement: String { get }

    /// Why a resume cannot start from `checkpoint`, or nil when it can.
    /// `answeredCheckpoint` is the checkpoint an operator's answer belongs to.
    func resumeProblem(_ checkpoint: CheckpointRecord, answeredCheckpoint: Int64?) -> String?

    /// The environment and command line of an attempt that resumes from
    /// `checkpoint` (nil for a fresh start), with `answer` when it resumes
    /// from the checkpoint the answer belongs to.
    func preparation(for job: ClaimedJob, resumingFrom checkpoint: CheckpointRecord?, answer: InputAnswer?, environmentFile: String) -> AttemptPreparation

    /// Makes a tracker for the events of one attempt.
    func makeTracker() -> any EventTracker
}

extension JobAdapter {
    /// Returns the newest checkpoint a resume may start from: valid, stored,
    /// not superseded and accepted by `resumeProblem`. Rows are in capture order,
    /// so the newest is the one with the highest id.
    func chooseResumePoint(_ checkpoints: [CheckpointRecord], answeredCheckpoint: Int64?) -> CheckpointRecord? {
        checkpoints
            .filter { $0.isResumable && resumeProblem($0, answeredCheckpoint: answeredCheckpoint) == nil }
            .max { $0.id < $1.id }
    }

    /// Shared rule for names: files starting with `.` or ending in `.tmp` are
    /// temporary files of an atomic write in progress and are left alone.
    static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasSuffix(".tmp")
    }
}

/// Follows one attempt's events for its adapter. It tells which events
/// announce a checkpoint, and concludes how the attempt ended.
protocol EventTracker: Sendable {
    /// Tests the raw line cheaply. Only lines that pass are parsed and given to `observe`.
    func mayConcern(_ line: String) -> Bool

    /// Takes in one event (a JSON object) and returns whether it announces a
    /// checkpoint to capture at once.
    mutating func observe(_ event: [String: Any]) -> Bool

    /// Takes in the start of a line too long to be stored whole, which cannot be parsed.
    mutating func observeTruncated(_ line: String)

    /// Decides how the attempt ended. `classified` is the daemon's
    /// classification from its stop intent and the engine's report, and
    /// `captured` lists the checkpoints captured during this attempt.
    func conclude(_ classified: AttemptResult, intent: StopIntent?, exit: ContainerExit, captured: [NewCheckpoint]) -> AttemptConclusion
}

/// How an attempt ended, as its adapter concludes it.
public enum AttemptConclusion: Sendable {
    /// The attempt is over; `retryable` false buries the job even when the
    /// retry policy would try again.
    case finished(AttemptResult, retryable: Bool)
    /// The run stopped for an operator's answer; `pendingInput` is the JSON
    /// object stored in `jobs.pending_input`.
    case waitingForInput(AttemptResult, pendingInput: String)

    public var result: AttemptResult {
        switch self {
        case .finished(let result, _), .waitingForInput(let result, _): result
        }
    }
}

/// Makes the adapter of a job from its spec.
enum JobAdapters {
    static func adapter(for spec: JobSpec, jobID: Int64) -> any JobAdapter {
        switch spec.adapter {
        case .generic:
            GenericAdapter()
        case .perstack(let options):
            PerstackAdapter(options: options, jobID: jobID)
        }
    }
}

/// The adapters' resume rules, for the command line.
public enum ResumePoints {
    /// Returns the reason a resume of the job with `spec` cannot start from `checkpoint`, or
    /// nil when it can. An operator may choose a superseded checkpoint.
    public static func problem(spec: JobSpec, jobID: Int64, checkpoint: CheckpointRecord, answeredCheckpoint: Int64? = nil) -> String? {
        if let reason = checkpoint.refusedReason { return "capture refused it: \(reason)" }
        guard checkpoint.valid, checkpoint.storedPath != nil else {
            return checkpoint.invalidReason.map { "its content \($0)" } ?? "its content is not valid"
        }
        return JobAdapters.adapter(for: spec, jobID: jobID).resumeProblem(checkpoint, answeredCheckpoint: answeredCheckpoint)
    }

    /// Returns the rule that the adapter of the job with `spec` checks checkpoint content against.
    public static func contentRequirement(spec: JobSpec, jobID: Int64) -> String {
        JobAdapters.adapter(for: spec, jobID: jobID).contentRequirement
    }

    /// Returns the checkpoint the next attempt resumes from when no operator chose one.
    public static func newest(spec: JobSpec, jobID: Int64, checkpoints: [CheckpointRecord], answeredCheckpoint: Int64? = nil) -> CheckpointRecord? {
        JobAdapters.adapter(for: spec, jobID: jobID).chooseResumePoint(checkpoints, answeredCheckpoint: answeredCheckpoint)
    }

    /// Returns the checkpoints an operator may mean by `name`, newest first:
    /// those with that file name, and for Perstack jobs the one with that id.
    public static func matching(_ name: String, spec: JobSpec, checkpoints: [CheckpointRecord]) -> [CheckpointRecord] {
        let names = fileNames(for: name, spec: spec)
        return checkpoints.filter { names.contains($0.name) && $0.storedPath != nil }.sorted { $0.id > $1.id }
    }

    /// Returns the newest file that capture refused under `name`, so that a
    /// resume from it can report the reason.
    public static func refusal(_ name: String, spec: JobSpec, checkpoints: [CheckpointRecord]) -> CheckpointRecord? {
        let names = fileNames(for: name, spec: spec)
        return checkpoints.last { names.contains($0.name) && $0.refusedReason != nil }
    }

    /// Returns the file names that `name` may mean, because a Perstack checkpoint is also named by its id alone.
    private static func fileNames(for name: String, spec: JobSpec) -> Set<String> {
        var names: Set<String> = [name]
        if case .perstack = spec.adapter { names.insert(name + ".json") }
        return names
    }

    /// Describes a checkpoint's metadata briefly, such as
    /// `step 4, proceeding, expert writer`, or returns nil when there is none.
    public static func summary(of checkpoint: CheckpointRecord) -> String? {
        guard let info = PerstackCheckpointInfo.decode(checkpoint.metadata) else { return nil }
        var parts: [String] = []
        if let step = info.stepNumber { parts.append("step \(step)") }
        if let status = info.status { parts.append(status) }
        parts.append("expert \(info.expert)")
        if let parent = info.delegatedBy { parts.append("delegated by \(parent)") }
        return parts.joined(separator: ", ")
    }
}

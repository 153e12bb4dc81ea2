import BerthCore
import BerthStore
import Foundation

/// The adapter for the Perstack runtime (`perstack run --runtime local`).
///
/// The runtime writes `perstack/jobs/<job id>/checkpoints/<checkpoint id>.json`
/// in its working directory, the workspace, before it prints the event that
/// carries the same checkpoint. Those writes are not atomic, so a file can be
/// cut short by a kill; such a file is stored as not valid.
struct PerstackAdapter: JobAdapter {
    let options: JobSpec.PerstackOptions
    let jobID: Int64

    /// Checkpoint statuses a resume may start from without an answer. A run
    /// resumed from one of them gets the query again as a new user message.
    static let resumableStatuses: Set<String> = [
        "init", "proceeding", "completed", "stoppedByExceededMaxSteps", "stoppedByError",
    ]
    static let interactiveStatus = "stoppedByInteractiveTool"

    var checkpointDirectory: [String] {
        ["perstack", "jobs", PerstackCommandLine.jobID(jobID), "checkpoints"]
    }

    /// The runtime creates its own directories.
    var workspaceSubdirectories: [String] { [] }

    func decide(name: String) -> CheckpointNameDecision {
        if Self.isTemporary(name) { return .ignore }
        guard name.hasSuffix(".json"), PerstackCommandLine.isCheckpointID(String(name.dropLast(5))) else {
            return .refuse("is not a Perstack checkpoint file name (ID.json, with an ID of letters, digits, '.', '_' or '-')")
        }
        return .capture
    }

    /// Accepts the file when it is complete JSON with the checkpoint's `id`
    /// (equal to the file name) and `expert.key`. The fields that choose a
    /// resume point are kept as metadata.
    func inspect(_ content: [UInt8], name: String) -> CheckpointInspection {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(content), options: [.fragmentsAllowed]) else {
            return .invalidJSON(content)
        }
        guard let object = parsed as? [String: Any] else {
            return .invalid("is JSON but not an object")
        }
        guard let info = PerstackCheckpointInfo(checkpoint: object) else {
            return .invalid(PerstackCheckpointInfo.missingField(in: object))
        }
        guard info.checkpointId + ".json" == name else {
            return .invalid("has the id \"\(info.checkpointId)\", which does not match the file name")
        }
        return .valid(metadata: info.encoded())
    }

    let contentRequirement = "complete JSON with an expert.key and an id equal to the file name"

    func resumeProblem(_ checkpoint: CheckpointRecord, answeredCheckpoint: Int64?) -> String? {
        guard let info = PerstackCheckpointInfo.decode(checkpoint.metadata) else {
            return "its content is not a Perstack checkpoint"
        }
        if let parent = info.delegatedBy {
            return "it was written by expert \(info.expert) while delegated by \(parent); a resume starts from a checkpoint of the job's own expert"
        }
        guard info.expert == options.expert else {
            return "it belongs to expert \(info.expert), not to the job's expert \(options.expert)"
        }
        let status = info.status ?? "unknown"
        if status == Self.interactiveStatus {
            return checkpoint.id == answeredCheckpoint
                ? nil : "the run stopped there for an answer to a tool call; give one with berth answer"
        }
        guard Self.resumableStatuses.contains(status) else {
            return "the run cannot resume from a checkpoint with status \(status); choose an earlier one"
        }
        return nil
    }

    func preparation(for job: ClaimedJob, resumingFrom checkpoint: CheckpointRecord?, answer: InputAnswer?, environmentFile: String) -> AttemptPreparation {
        let checkpointID = checkpoint.flatMap { PerstackCheckpointInfo.decode($0.metadata)?.checkpointId }
        let usesAnswer = answer != nil && checkpoint != nil && answer?.checkpoint == checkpoint?.id
        let command = PerstackCommandLine.arguments(
            program: job.spec.command, options: options, jobID: jobID, resumeFrom: checkpointID,
            answer: usesAnswer ? answer?.value : nil)
        return AttemptPreparation(
            environment: ContainerPaths.jobEnvironment(job), command: command, resumedFrom: checkpoint?.id,
            readOnlyMounts: [ReadOnlyMount(hostPath: environmentFile, containerPath: PerstackCommandLine.environmentFile)])
    }

    func makeTracker() -> any EventTracker {
        PerstackRunTracker(expert: options.expert)
    }
}

/// The fields of a Perstack checkpoint that berth uses, stored as the
/// checkpoint row's metadata.
struct PerstackCheckpointInfo: Codable, Equatable, Sendable {
    var checkpointId: String
    var expert: String
    var status: String?
    var stepNumber: Int?
    var runId: String?
    /// The delegating expert's key, set on a delegated expert's checkpoints.
    var delegatedBy: String?
    /// Whether the error of a `stoppedByError` checkpoint may be retried, as the error itself states.
    var errorRetryable: Bool?
    var pendingToolCalls: [PendingInput.ToolCall]?

    /// Reads a checkpoint object; nil when it lacks the id or the expert key.
    init?(checkpoint object: [String: Any]) {
        guard let id = object["id"] as? String, PerstackCommandLine.isCheckpointID(id),
              let expert = (object["expert"] as? [String: Any])?["key"] as? String
        else { return nil }
        checkpointId = id
        self.expert = expert
        status = object["status"] as? String
        stepNumber = object["stepNumber"] as? Int
        runId = object["runId"] as? String
        if let delegatedBy = object["delegatedBy"], !(delegatedBy is NSNull) {
            let parent = ((delegatedBy as? [String: Any])?["expert"] as? [String: Any])?["key"] as? String
            self.delegatedBy = parent ?? "an unknown expert"
        }
        errorRetryable = (object["error"] as? [String: Any])?["isRetryable"] as? Bool
        if let calls = object["pendingToolCalls"] as? [[String: Any]] {
            pendingToolCalls = calls.map(PendingInput.ToolCall.init(perstack:))
        }
    }

    /// Names what `init(checkpoint:)` found missing in `object`.
    static func missingField(in object: [String: Any]) -> String {
        guard let id = object["id"] as? String else { return "has no id string" }
        guard PerstackCommandLine.isCheckpointID(id) else {
            return "has the id \"\(id)\", which is not a checkpoint id (letters, digits, '.', '_' or '-')"
        }
        return "has no expert.key string"
    }

    func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    static func decode(_ metadata: String?) -> PerstackCheckpointInfo? {
        guard let metadata else { return nil }
        return try? JSONDecoder().decode(PerstackCheckpointInfo.self, from: Data(metadata.utf8))
    }
}

extension PendingInput.ToolCall {
    /// Reads one of a checkpoint's `pendingToolCalls` (`id`, `skillName`, `toolName`, `args`).
    init(perstack call: [String: Any]) {
        var arguments: String? = nil
        if let args = call["args"], JSONSerialization.isValidJSONObject(args),
           let data = try? JSONSerialization.data(withJSONObject: args, options: [.sortedKeys, .withoutEscapingSlashes]) {
            arguments = String(decoding: data, as: UTF8.self)
        }
        self.init(id: call["id"] as? String, skillName: call["skillName"] as? String, toolName: call["toolName"] as? String,
                  arguments: arguments)
    }
}

/// The argv of `perstack run`, built from the job's spec.
enum PerstackCommandLine {
    /// The mount point of the empty, read-only environment file in the container.
    /// `--env-path` points here so that the runtime never loads a `.env` the
    /// job planted in its workspace.
    static let environmentFile = "/berth/perstack.env"

    /// Returns the id berth gives the runtime's job. The runtime uses it raw in
    /// a directory name, so it is derived from berth's numeric id only.
    static func jobID(_ berthJobID: Int64) -> String {
        "berth-\(berthJobID)"
    }

    /// Returns whether `id` may be a checkpoint id, which becomes a file name and an argument.
    static func isCheckpointID(_ id: String) -> Bool {
        id.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"#, options: .regularExpression) != nil
    }

    /// `program run --config … --runtime local`, then `--job-id` for a first
    /// run or `--continue-job … --resume-from …` for a resume, the options
    /// the spec sets, `--env-path`, `-i` when `answer` is the query, and after
    /// `--` the expert key and the query. The `--` keeps a query that starts
    /// with a dash from being read as an option.
    static func arguments(
        program: [String], options: JobSpec.PerstackOptions, jobID berthJobID: Int64, resumeFrom checkpointID: String?,
        answer: String?
    ) -> [String] {
        var arguments = program + ["run", "--config", options.config, "--runtime", "local"]
        let runtimeJobID = jobID(berthJobID)
        if let checkpointID {
            arguments += ["--continue-job", runtimeJobID, "--resume-from", checkpointID]
        } else {
            arguments += ["--job-id", runtimeJobID]
        }
        if let provider = options.provider { arguments += ["--provider", provider] }
        if let model = options.model { arguments += ["--model", model] }
        if let maxSteps = options.maxSteps { arguments += ["--max-steps", "\(maxSteps)"] }
        if let maxRetries = options.maxRetries { arguments += ["--max-retries", "\(maxRetries)"] }
        if let modelTimeout = options.modelTimeout { arguments += ["--timeout", "\(modelTimeout.milliseconds)"] }
        arguments += ["--env-path", environmentFile]
        if answer != nil { arguments.append("-i") }
        arguments += ["--", options.expert, answer ?? options.query]
        return arguments
    }
}

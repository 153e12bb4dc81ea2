import BerthCore
import BerthDaemon
import BerthStore

/// `berth show ID`: one job with its spec and attempts.
struct ShowCommand: Command {
    let name = "show"
    let summary = "Show one job: its state, spec and attempts."
    let usage = "[--json] ID"

    let options: [OptionDefinition] = [
        .flag("json", "Print the job as one JSON object; its \"spec\" can be submitted again."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let ids = try jobIDs(arguments.positionals, command: name)
        guard ids.count == 1 else {
            throw UsageError("give exactly one job id", command: name)
        }
        let store = try context.store()
        let job = try store.requireJob(id: ids[0])
        let attempts = try store.attempts(jobID: job.id)
        let checkpointNames = Dictionary(
            try store.checkpoints(jobID: job.id).map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })

        if arguments.has("json") {
            context.print(JSONOutput.line(JobView(job, attempts: attempts)))
            return
        }

        var fields: [(String, String)] = [
            ("id", "\(job.id)"),
            ("state", job.state.rawValue + (job.cancelRequested ? " (cancel requested)" : "")),
            ("queue", job.queue),
            ("priority", "\(job.priority)"),
            ("image", job.spec.image),
            ("command", Format.command(job.spec.command, limit: 200)),
        ]
        fields += Self.adapterFields(job.spec.adapter)
        fields += [
            ("attempts", "\(job.attemptsUsed) used, \(job.attempt) started"),
            ("created", Format.time(job.createdAt)),
            ("run at", Format.time(job.runAt)),
        ]
        if let finishedAt = job.finishedAt { fields.append(("finished", Format.time(finishedAt))) }
        if let key = job.idempotencyKey { fields.append(("idempotency key", key)) }
        if let owner = job.leaseOwner {
            fields.append(("lease", "\(owner) until \(Format.time(job.leaseExpiresAt))"))
        }
        if !job.spec.env.isEmpty { fields.append(("env", job.spec.env.keys.sorted().joined(separator: ", "))) }
        if !job.spec.secrets.isEmpty { fields.append(("secrets", job.spec.secrets.joined(separator: ", "))) }
        if !job.spec.labels.isEmpty {
            fields.append(("labels", job.spec.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))
        }
        if let limits = Self.limitsText(job.spec.limits) { fields.append(("limits", limits)) }
        if let retry = Self.retryText(job.spec.retry) { fields.append(("retry", retry)) }
        if let error = job.lastError { fields.append(("last error", Format.printable(error))) }
        if let pending = job.pendingInput { fields += Self.pendingInputFields(pending, jobID: job.id) }
        if let resumeFrom = job.resumeFrom {
            fields.append(("resume from", "checkpoint \(resumeFrom) " + Format.printable(checkpointNames[resumeFrom] ?? "")))
        }

        let width = (fields.map(\.0.count).max() ?? 0) + 2
        for (label, value) in fields {
            context.print(label + ":" + String(repeating: " ", count: width - label.count) + value)
        }

        guard !attempts.isEmpty else { return }
        var table = Table("ATTEMPT", "WORKER", "STARTED", "FINISHED", "OUTCOME", "EXIT", "RESUMED FROM", "MESSAGE")
        for attempt in attempts {
            table.append([
                "\(attempt.attempt)", attempt.workerID, Format.time(attempt.startedAt ?? attempt.claimedAt),
                Format.time(attempt.finishedAt), attempt.outcome?.rawValue ?? "-",
                attempt.exitCode.map { "\($0)" } ?? "-",
                attempt.resumedFrom.map { "\($0) " + Format.truncate(Format.printable(checkpointNames[$0] ?? ""), to: 40) } ?? "-",
                Format.truncate(Format.printable(attempt.message ?? ""), to: 60),
            ])
        }
        context.print("")
        context.print(table.render())
    }
}

extension ShowCommand {
    /// Lists what a waiting job waits for, one field per fact, with the `berth answer` command to run.
    /// Describes the limits the spec sets, such as `memory 512m, timeout 10m`.
    /// Returns nil when it sets none and the queue's limits apply.
    static func limitsText(_ limits: JobSpec.Limits) -> String? {
        var parts: [String] = []
        if let memory = limits.memory { parts.append("memory \(memory)") }
        if let cpus = limits.cpus { parts.append("cpus " + (cpus == cpus.rounded() ? String(Int(cpus)) : String(cpus))) }
        if let pids = limits.pids { parts.append("pids \(pids)") }
        if let timeout = limits.timeout { parts.append("timeout \(timeout)") }
        if let disk = limits.workspaceDisk { parts.append("workspace disk \(disk)") }
        if let output = limits.maxOutputBytes { parts.append("max output \(output)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ") + "; other limits from the queue"
    }

    /// Describes the retry settings the spec overrides. Returns nil when the
    /// queue's policy applies unchanged.
    static func retryText(_ retry: JobSpec.RetryOverrides) -> String? {
        var parts: [String] = []
        if let maxAttempts = retry.maxAttempts { parts.append("max attempts \(maxAttempts)") }
        if let delay = retry.initialDelay { parts.append("initial delay \(delay)") }
        if let delay = retry.maxDelay { parts.append("max delay \(delay)") }
        if let multiplier = retry.multiplier { parts.append("multiplier \(multiplier)") }
        if let jitter = retry.jitter { parts.append("jitter \(jitter)") }
        if let outcomes = retry.retryOn { parts.append("on " + outcomes.map(\.rawValue).joined(separator: " ")) }
        if let codes = retry.neverRetryExitCodes { parts.append("never on exit codes " + codes.map(String.init).joined(separator: " ")) }
        return parts.isEmpty ? nil : parts.joined(separator: ", ") + "; the rest from the queue"
    }

    /// Returns the adapter and, for a Perstack job, the expert and the query,
    /// which is the task an operator reviews before approving a held job.
    static func adapterFields(_ adapter: JobSpec.Adapter) -> [(String, String)] {
        guard case .perstack(let options) = adapter else { return [] }
        var fields = [("adapter", "perstack"), ("expert", Format.printable(options.expert)),
                      ("query", Format.truncate(Format.printable(options.query), to: 500))]
        var settings: [String] = []
        if let provider = options.provider { settings.append("provider \(provider)") }
        if let model = options.model { settings.append("model \(model)") }
        if let maxSteps = options.maxSteps { settings.append("max steps \(maxSteps)") }
        if !settings.isEmpty { fields.append(("runtime", Format.printable(settings.joined(separator: ", ")))) }
        return fields
    }

    static func pendingInputFields(_ stored: String, jobID: Int64) -> [(String, String)] {
        guard let pending = PendingInput.decode(stored) else {
            return [("waiting for", Format.printable(stored))]
        }
        var fields: [(String, String)] = []
        for call in pending.toolCalls {
            var description = "an answer to tool call " + Format.printable(call.toolName ?? "(unnamed)")
            if let skill = call.skillName { description += " of skill " + Format.printable(skill) }
            if let id = call.id { description += " (call " + Format.printable(id) + ")" }
            fields.append(("waiting for", description))
            if let arguments = call.arguments {
                fields.append(("arguments", Format.truncate(Format.printable(arguments), to: 300)))
            }
        }
        if pending.toolCalls.isEmpty {
            fields.append(("waiting for", "an answer"))
        }
        fields.append(("stopped at", "checkpoint " + Format.printable(pending.checkpoint)))
        fields.append(("answer with", "berth answer \(jobID) --text TEXT, or --json JSON"))
        return fields
    }
}

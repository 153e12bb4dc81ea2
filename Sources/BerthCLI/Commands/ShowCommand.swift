import BerthCore
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
        if let error = job.lastError { fields.append(("last error", Format.printable(error))) }
        if let pending = job.pendingInput { fields.append(("waiting for", Format.printable(pending))) }

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
                attempt.exitCode.map { "\($0)" } ?? "-", attempt.resumedFrom.map { "\($0)" } ?? "-",
                Format.truncate(Format.printable(attempt.message ?? ""), to: 60),
            ])
        }
        context.print("")
        context.print(table.render())
    }
}

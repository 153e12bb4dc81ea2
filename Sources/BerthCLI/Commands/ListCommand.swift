import BerthCore
import BerthStore
import Foundation

/// `berth ls`: jobs, newest first.
struct ListCommand: Command {
    let name = "ls"
    let summary = "List jobs, newest first."
    let usage = "[--state STATE] [--queue NAME] [--label KEY=VALUE] [--limit N] [--json]"
    let details = "States: \(JobState.allCases.map(\.rawValue).joined(separator: ", "))."

    private static let labelKey = NamePattern(#"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$"#)!

    let options: [OptionDefinition] = [
        .value("state", "STATE", "Only jobs in STATE; a comma-separated list is accepted.", repeatable: true),
        .value("queue", "NAME", "Only jobs of queue NAME."),
        .value("label", "KEY=VALUE", "Only jobs with this label.", repeatable: true),
        .value("limit", "N", "Print at most N jobs, from 1 to 100000. Default: 50."),
        .flag("json", "Print one JSON object per job."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument \(arguments.positionals[0])", command: name)
        }
        var filter = JobFilter()
        for value in arguments.all("state").flatMap({ $0.split(separator: ",") }) {
            guard let state = JobState(rawValue: String(value)) else {
                throw UsageError("--state \(value): unknown state; expected one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))", command: name)
            }
            filter.states.append(state)
        }
        filter.queue = arguments.value("queue")
        for label in arguments.all("label") {
            guard let equals = label.firstIndex(of: "="), equals != label.startIndex else {
                throw UsageError("--label \(label): expected KEY=VALUE", command: name)
            }
            // The store quotes the key inside a JSON path, so a quote in it
            // would make SQLite fail; the pattern is JobSpec's label key rule.
            let key = label[..<equals]
            guard Self.labelKey.matches(String(key)) else {
                throw UsageError(
                    "--label \(label): invalid key \(key); expected 1 to 63 letters, digits, '.', '_', '/' or '-', starting with a letter or digit",
                    command: name)
            }
            filter.labels[String(label[..<equals])] = String(label[label.index(after: equals)...])
        }
        if let limit = arguments.value("limit") {
            guard let count = Int(limit), (1...100_000).contains(count) else {
                throw UsageError("--limit \(limit): expected an integer from 1 to 100000", command: name)
            }
            filter.limit = count
        }

        let store = try context.store()
        let jobs = try store.jobs(matching: filter)
        let outcomes = try store.currentAttemptOutcomes(jobIDs: jobs.map(\.id))
        if arguments.has("json") {
            for job in jobs {
                context.print(JSONOutput.line(JobView(job, outcome: outcomes[job.id])))
            }
            return
        }

        // ATTEMPT is the current attempt, the one OUTCOME describes, so a
        // running job shows 1, not the 0 attempts it has used up so far.
        var table = Table("ID", "STATE", "QUEUE", "PRI", "ATTEMPT", "OUTCOME", "CREATED", "IMAGE", "COMMAND")
        for job in jobs {
            table.append([
                "\(job.id)", job.state.rawValue + (job.cancelRequested ? "*" : ""), job.queue, "\(job.priority)",
                job.attempt == 0 ? "-" : "\(job.attempt)", outcomes[job.id]?.rawValue ?? "-", Format.time(job.createdAt),
                Format.truncate(job.spec.image, to: 40), Format.command(job.spec.command),
            ])
        }
        context.print(table.render())
        if jobs.contains(where: \.cancelRequested) {
            context.print("* cancel requested; the worker stops the job at once on its host, or at its next poll from another host")
        }
    }
}

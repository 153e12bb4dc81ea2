import BerthCore
import BerthStore

/// `berth stats`: counts by queue and state.
struct StatsCommand: Command {
    let name = "stats"
    let summary = "Count jobs by queue and state, with the age of the oldest ready job."
    let usage = "[--json]"

    let options: [OptionDefinition] = [
        .flag("json", "Print one JSON object per queue."),
    ]

    private struct QueueView: Encodable {
        let queue: String
        let counts: [String: Int]
        let oldestReadyAgeSeconds: Double?
    }

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument \(arguments.positionals[0])", command: name)
        }
        let stats = try context.store().stats(now: context.now())

        if arguments.has("json") {
            for row in stats.queues {
                let counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, row.counts[$0] ?? 0) })
                context.print(JSONOutput.line(QueueView(
                    queue: row.queue, counts: counts, oldestReadyAgeSeconds: row.oldestReadyAge.map { Double($0) / 1000 })))
            }
            return
        }

        var table = Table("QUEUE", "HELD", "QUEUED", "RUNNING", "WAITING", "FAILED", "SUCCEEDED", "DEAD", "CANCELLED", "OLDEST READY")
        for row in stats.queues {
            let counts: [JobState] = [.held, .queued, .running, .waiting, .failed, .succeeded, .dead, .cancelled]
            table.append([row.queue] + counts.map { "\(row.counts[$0] ?? 0)" } + [row.oldestReadyAge.map(Format.age) ?? "-"])
        }
        context.print(table.render())
    }
}

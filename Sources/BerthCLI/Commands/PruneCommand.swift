import BerthCore
import BerthStore
import Foundation

/// `berth prune`: deletes old finished jobs with everything stored for them.
struct PruneCommand: Command {
    let name = "prune"
    let summary = "Delete finished jobs older than a given age, with their events and stored checkpoints."
    let usage = "--older-than DURATION [--batch-size N]"
    let details = """
        Only succeeded, dead and cancelled jobs are deleted, judged by the time they
        finished. Deletion runs in batches so that running workers are never locked
        out for long.
        """

    let options: [OptionDefinition] = [
        .value("older-than", "DURATION", "Delete jobs that finished more than DURATION ago, such as 7d or 12h."),
        .value("batch-size", "N", "Jobs deleted per transaction, from 1 to 10000. Default: 500."),
        .flag("json", "Print {\"jobs\":…,\"checkpointFiles\":…}."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        guard let olderThanText = arguments.value("older-than") else {
            throw UsageError("--older-than is required, such as --older-than 7d", command: name)
        }
        guard let olderThan = TimeSpan(parsing: olderThanText) else {
            throw UsageError("--older-than \(olderThanText): \(CommandContext.durationMistake(olderThanText, examples: "7d or 12h"))", command: name)
        }
        var batchSize = 500
        if let text = arguments.value("batch-size") {
            guard let value = Int(text), (1...10_000).contains(value) else {
                throw UsageError("--batch-size \(text): expected an integer from 1 to 10000", command: name)
            }
            batchSize = value
        }

        let cutoff = context.now() - olderThan.milliseconds
        let result = try context.store().prune(finishedBefore: cutoff, batchSize: batchSize)

        var unremoved: [String] = []
        for path in result.checkpointFiles {
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch let error as CocoaError where error.code == .fileNoSuchFile {
                continue
            } catch {
                unremoved.append(path)
                context.printError("berth prune: cannot delete stored checkpoint \(path): \(error.localizedDescription)")
            }
        }

        if arguments.has("json") {
            context.print("{\"checkpointFiles\":\(result.checkpointFiles.count - unremoved.count),\"jobs\":\(result.jobs)}")
        } else {
            context.print("pruned \(result.jobs) jobs finished before \(Format.time(cutoff)), deleted \(result.checkpointFiles.count - unremoved.count) checkpoint files")
        }
        if !unremoved.isEmpty {
            throw PartialFailure()
        }
    }
}

import BerthCore
import BerthStore

/// The operator actions that take job ids and change each job's state:
/// `cancel`, `retry` and `approve`. Every id is tried; the exit status is 1
/// when any of them failed.
protocol JobActionCommand: Command {
    /// Applies the action to one job and returns the line to print.
    func apply(to id: Int64, store: JobStore, now: Int64) throws -> String
}

extension JobActionCommand {
    var usage: String { "ID..." }
    var options: [OptionDefinition] { [] }

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let ids = try jobIDs(arguments.positionals, command: name)
        let store = try context.store()
        var failed = false
        for id in ids {
            do {
                context.print(try apply(to: id, store: store, now: context.now()))
            } catch let error as StoreError {
                context.printError("berth \(name): \(error)")
                failed = true
            }
        }
        context.wakeLocalDaemons()
        if failed {
            throw PartialFailure()
        }
    }
}

struct CancelCommand: JobActionCommand {
    let name = "cancel"
    let summary = "Cancel jobs; a running job's worker stops it at once on this host, or at its next poll on another host."

    func apply(to id: Int64, store: JobStore, now: Int64) throws -> String {
        switch try store.cancel(id: id, now: now) {
        case .cancelled:
            "job \(id) cancelled"
        case .requested:
            "job \(id) is running; cancel requested, its worker stops the container at once on this host, or at its next poll on another host"
        }
    }
}

struct RetryCommand: JobActionCommand {
    let name = "retry"
    let summary = "Queue failed, dead or cancelled jobs again, with a fresh attempt budget."

    func apply(to id: Int64, store: JobStore, now: Int64) throws -> String {
        try store.retry(id: id, now: now)
        return "job \(id) queued"
    }
}

struct ApproveCommand: JobActionCommand {
    let name = "approve"
    let summary = "Release held jobs to the queue."

    func apply(to id: Int64, store: JobStore, now: Int64) throws -> String {
        try store.approve(id: id, now: now)
        return "job \(id) approved and queued"
    }
}

import BerthCore
import BerthStore
import Foundation

/// `berth wait ID...`: blocks until every job is finished.
struct WaitCommand: Command {
    let name = "wait"
    let summary = "Wait until jobs are finished; exit 0 only if all succeeded."
    let usage = "[--timeout DURATION] [--json] ID..."
    let details = """
        Prints each job's final state as it finishes. A job in the waiting state is
        not finished: it waits for `berth answer`. Exit status: 0 when every job
        succeeded; 1 when any job is dead or cancelled, even if the timeout passed
        too; 75 when the timeout passed while jobs were unfinished and none had
        failed, so that running `berth wait` again may still succeed.
        """

    let options: [OptionDefinition] = [
        .value("timeout", "DURATION", "Give up after DURATION, such as 10m. Default: wait without limit."),
        .flag("json", "Print {\"id\":…,\"state\":…} per finished job."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let ids = try jobIDs(arguments.positionals, command: name)
        let timeout = try arguments.value("timeout").map { text in
            guard let span = TimeSpan(parsing: text) else {
                throw UsageError("--timeout \(text): \(CommandContext.durationMistake(text, examples: "30s or 10m"))", command: name)
            }
            return span
        }
        let deadline = timeout.map { context.now() + $0.milliseconds }
        let store = try context.store()
        for id in ids {
            _ = try store.requireJob(id: id)
        }

        var remaining = ids
        var allSucceeded = true
        while !remaining.isEmpty {
            let version = try store.dataVersion()
            for id in remaining {
                let job = try store.requireJob(id: id)
                guard job.state.isFinished else { continue }
                remaining.removeAll { $0 == id }
                allSucceeded = allSucceeded && job.state == .succeeded
                context.print(arguments.has("json") ? #"{"id":\#(id),"state":"\#(job.state.rawValue)"}"# : "job \(id) \(job.state.rawValue)")
                context.standardOutput.flush()
            }
            guard !remaining.isEmpty else { break }
            if let timeout, let deadline, context.now() >= deadline {
                throw try timeoutFailure(after: timeout, unfinished: remaining, allSucceeded: allSucceeded, store: store, now: context.now())
            }
            while try store.dataVersion() == version {
                if let deadline, context.now() >= deadline { break }
                usleep(10_000)
            }
        }
        if !allSucceeded {
            throw PartialFailure()
        }
    }

    /// Makes the error for a timeout, naming each unfinished job with its
    /// current state. A job that already failed decides the exit status,
    /// because waiting longer cannot make every job succeed.
    private func timeoutFailure(after timeout: TimeSpan, unfinished: [Int64], allSucceeded: Bool, store: JobStore, now: Int64) throws -> CommandFailure {
        let states = try unfinished.map { id in
            let job = try store.requireJob(id: id)
            // A job that is not due yet is the usual reason for the wait, so its start time is named.
            let due = (job.state == .queued || job.state == .failed) && job.runAt > now
                ? ", due at \(Format.isoTime(job.runAt) ?? "\(job.runAt)")" : ""
            return "job \(id) (\(job.state.rawValue)\(due))"
        }
        let ids = unfinished.map(String.init).joined(separator: " ")
        return CommandFailure(
            "timed out after \(timeout); not finished: \(states.joined(separator: ", ")). Run `berth wait \(ids)` to keep waiting",
            status: allSucceeded ? BerthCommandLine.ExitStatus.timedOut : BerthCommandLine.ExitStatus.failure)
    }
}

/// `berth workers`: registered daemons and their heartbeats.
struct WorkersCommand: Command {
    let name = "workers"
    let summary = "List worker daemons with their last heartbeat."
    let usage = "[--json]"

    let options: [OptionDefinition] = [
        .flag("json", "Print one JSON object per worker."),
    ]

    private struct WorkerView: Encodable {
        let id: String
        let host: String
        let pid: Int32
        let version: String
        let startedAt: String
        let heartbeatAt: String
        let stoppedAt: String?
    }

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let workers = try context.store().workers()
        if arguments.has("json") {
            for worker in workers {
                context.print(JSONOutput.line(WorkerView(
                    id: worker.id, host: worker.host, pid: worker.pid, version: worker.version,
                    startedAt: RunAtTime.format(worker.startedAt), heartbeatAt: RunAtTime.format(worker.heartbeatAt),
                    stoppedAt: worker.stoppedAt.map(RunAtTime.format))))
            }
            return
        }
        let now = context.now()
        var table = Table("WORKER", "HOST", "PID", "VERSION", "STARTED", "HEARTBEAT", "STATUS")
        for worker in workers {
            let status = worker.stoppedAt != nil ? "stopped" : "heartbeat \(Format.age(max(0, now - worker.heartbeatAt))) ago"
            table.append([worker.id, worker.host, "\(worker.pid)", worker.version, Format.time(worker.startedAt),
                          Format.time(worker.heartbeatAt), status])
        }
        context.print(table.render())
    }
}

import BerthCore
import BerthStore
import Foundation

/// `berth events ID`: the lines a job printed on standard output, as stored.
struct EventsCommand: Command {
    let name = "events"
    let summary = "Print a job's events (its standard output lines), optionally following new ones."
    let usage = "[--attempt N] [--follow] [--json] ID"
    let details = """
        With --json, each line is one object: {"attempt","seq","at","type","json",
        "truncated"} and either "event" (the job's JSON object, unchanged) or "line"
        (a line that was not a JSON object). --follow keeps printing new events
        until the job is finished, across retries; this is the stream an
        application reads.
        """

    let options: [OptionDefinition] = [
        .value("attempt", "N", "Only events of attempt N."),
        .flag("follow", "Keep printing new events until the job is finished."),
        .flag("json", "Print one JSON object per event."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let ids = try jobIDs(arguments.positionals, command: name)
        guard ids.count == 1 else { throw UsageError("give exactly one job id", command: name) }
        let attempt = try attemptOption(arguments, command: name)
        let json = arguments.has("json")
        let store = try context.store()
        _ = try store.requireJob(id: ids[0])

        try followStream(store: store, jobID: ids[0], attempt: attempt, follow: arguments.has("follow"), context: context) { position in
            let events = try store.events(jobID: ids[0], attempt: attempt, after: position)
            for event in events {
                context.print(json ? Self.jsonLine(event) : Self.textLine(event))
            }
            return events.last.map { ($0.attempt, $0.sequence) }
        }
    }

    static func jsonLine(_ event: EventRecord) -> String {
        let head = #"{"at":"\#(RunAtTime.format(event.at))","attempt":\#(event.attempt),"json":\#(event.isJSON),"seq":\#(event.sequence),"truncated":\#(event.truncated),"type":\#(event.type.map(jsonString) ?? "null")"#
        // A stored JSON object is embedded as it is, so applications read the job's own event.
        return event.isJSON ? head + #","event":\#(event.payload)}"# : head + #","line":\#(jsonString(event.payload))}"#
    }

    static func textLine(_ event: EventRecord) -> String {
        "[\(event.attempt):\(event.sequence) \(Format.time(event.at))] " + Format.printable(event.payload, keepingTabs: true)
    }
}

/// `berth logs ID`: the attempts' standard error lines.
struct LogsCommand: Command {
    let name = "logs"
    let summary = "Print a job's standard error lines, optionally following new ones."
    let usage = "[--attempt N] [--follow] [--json] ID"
    let details = """
        Each line starts with [ATTEMPT:SEQ TIME], as in `berth events`, so the
        attempts of a retried job stay apart. With --json, each line is one object:
        {"at","attempt","seq","truncated","line"}.
        """

    let options: [OptionDefinition] = [
        .value("attempt", "N", "Only lines of attempt N."),
        .flag("follow", "Keep printing new lines until the job is finished."),
        .flag("json", "Print one JSON object per line."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let ids = try jobIDs(arguments.positionals, command: name)
        guard ids.count == 1 else { throw UsageError("give exactly one job id", command: name) }
        let attempt = try attemptOption(arguments, command: name)
        let json = arguments.has("json")
        let store = try context.store()
        _ = try store.requireJob(id: ids[0])

        try followStream(store: store, jobID: ids[0], attempt: attempt, follow: arguments.has("follow"), context: context) { position in
            let lines = try store.logs(jobID: ids[0], attempt: attempt, after: position)
            for line in lines {
                context.print(json ? Self.jsonLine(line) : Self.textLine(line))
            }
            return lines.last.map { ($0.attempt, $0.sequence) }
        }
    }

    static func jsonLine(_ log: LogRecord) -> String {
        #"{"at":"\#(RunAtTime.format(log.at))","attempt":\#(log.attempt),"line":\#(jsonString(log.line)),"seq":\#(log.sequence),"truncated":\#(log.truncated)}"#
    }

    static func textLine(_ log: LogRecord) -> String {
        "[\(log.attempt):\(log.sequence) \(Format.time(log.at))] " + Format.printable(log.line, keepingTabs: true)
    }
}

/// Parses `--attempt N`, or returns nil when it is absent.
private func attemptOption(_ arguments: ParsedArguments, command: String) throws -> Int? {
    try arguments.value("attempt").map { text in
        guard let number = Int(text), number > 0 else {
            throw UsageError("--attempt \(text): expected a positive integer", command: command)
        }
        return number
    }
}

/// Prints batches from `fetch` until none is left, and with `follow` until the
/// job is finished, polling cheaply for commits by other processes.
///
/// With `attempt`, fails when the job does not have that attempt, so that a
/// mistyped number is noticed instead of printing nothing. While following an
/// unfinished job, a later attempt may still start, so the check waits until
/// the job is finished.
private func followStream(
    store: JobStore, jobID: Int64, attempt: Int?, follow: Bool, context: CommandContext,
    fetch: ((attempt: Int, sequence: Int64)?) throws -> (Int, Int64)?
) throws {
    if let attempt {
        let finished = try store.requireJob(id: jobID).state.isFinished
        if !follow || finished {
            try requireAttempt(attempt, jobID: jobID, store: store)
        }
    }

    var position: (attempt: Int, sequence: Int64)? = nil
    while true {
        let version = try store.dataVersion()
        while let last = try fetch(position) {
            position = last
        }
        context.standardOutput.flush()
        guard follow else {
            // An empty output would not tell a job that printed nothing from one that never ran.
            if position == nil, try store.attempts(jobID: jobID).isEmpty {
                context.printError("job \(jobID) has not started yet, so it has no output; add --follow to wait for it")
            }
            return
        }

        let job = try store.requireJob(id: jobID)
        if job.state.isFinished {
            // One more read: lines stored in the same commit as the finish.
            while let last = try fetch(position) { position = last }
            context.standardOutput.flush()
            if let attempt {
                try requireAttempt(attempt, jobID: jobID, store: store)
            }
            return
        }
        while try store.dataVersion() == version {
            usleep(50_000)
        }
    }
}

/// Throws a failure that names the attempts the job has when it has no attempt `attempt`.
private func requireAttempt(_ attempt: Int, jobID: Int64, store: JobStore) throws {
    let numbers = try store.attempts(jobID: jobID).map(\.attempt)
    guard !numbers.contains(attempt) else { return }

    let existing: String
    switch numbers.count {
    case 0:
        existing = "it has not started yet, so it has no attempts"
    case 1:
        existing = "its only attempt is \(numbers[0])"
    case _ where numbers == Array(numbers[0]...numbers[numbers.count - 1]):
        existing = "its attempts are \(numbers[0]) to \(numbers[numbers.count - 1])"
    default:
        existing = "its attempts are " + numbers.map(String.init).joined(separator: ", ")
    }
    throw CommandFailure("job \(jobID) has no attempt \(attempt); \(existing). `berth show \(jobID)` lists them")
}

/// `text` as a JSON string literal, quoted and escaped.
func jsonString(_ text: String) -> String {
    var literal = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": literal += "\\\""
        case "\\": literal += "\\\\"
        case "\n": literal += "\\n"
        case "\r": literal += "\\r"
        case "\t": literal += "\\t"
        case _ where scalar.value < 0x20:
            literal += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
        default:
            literal.unicodeScalars.append(scalar)
        }
    }
    return literal + "\""
}

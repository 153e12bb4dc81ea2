import BerthCore
import BerthDaemon
import BerthStore
import Foundation

/// Renders rows as a left-aligned table with a header, two spaces between columns.
struct Table {
    let headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    mutating func append(_ row: [String]) {
        rows.append(row)
    }

    func render() -> String {
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (column, cell) in cells.enumerated() {
                let isLast = column == cells.count - 1
                text += isLast ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }
            return text
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

enum Format {
    /// A time as `2026-12-04 09:30:00Z`, or `-` when absent.
    static func time(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "-" }
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// A time in the JSON output: ISO 8601 in UTC with milliseconds.
    static func isoTime(_ milliseconds: Int64?) -> String? {
        milliseconds.map(RunAtTime.format)
    }

    /// An age such as `45s`, `12m` or `3h5m`.
    static func age(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" }
        if seconds < 86_400 { return "\(seconds / 3600)h\(seconds % 3600 / 60)m" }
        return "\(seconds / 86_400)d\(seconds % 86_400 / 3600)h"
    }

    /// The command as a shell-like line for display only, quoting arguments with spaces.
    static func command(_ argv: [String], limit: Int = 40) -> String {
        let text = argv.map { argument in
            argument.isEmpty || argument.contains(where: { $0 == " " || $0 == "\"" || $0 == "'" })
                ? "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
                : argument
        }.joined(separator: " ")
        return truncate(printable(text), to: limit)
    }

    static func truncate(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// Escapes control characters, as `\n`, `\r`, `\t` or `\xNN`, so that stored
    /// text cannot move the terminal's cursor and a multi-line command stays on one line.
    /// Output lines keep their tabs, which are harmless on a terminal but would break a table's columns.
    static func printable(_ text: String, keepingTabs: Bool = false) -> String {
        var printable = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard scalar.value < 0x20 || scalar.value == 0x7f, !(keepingTabs && scalar == "\t") else {
                printable.append(scalar)
                continue
            }
            let escape: String
            switch scalar {
            case "\n": escape = "\\n"
            case "\r": escape = "\\r"
            case "\t": escape = "\\t"
            default: escape = "\\x" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2)
            }
            printable.append(contentsOf: escape.unicodeScalars)
        }
        return String(printable)
    }
}

/// JSON for scripts: sorted keys, no escaped slashes, one object per line.
enum JSONOutput {
    static func line<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The encoded types hold only strings, numbers, booleans and arrays.
        let data = try! encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }
}

/// A job as `berth ls --json` and `berth show --json` print it.
struct JobView: Encodable {
    let id: Int64
    let queue: String
    let state: String
    let priority: Int
    let runAt: String?
    let attempt: Int
    let attemptsUsed: Int
    /// The outcome of the current attempt once it has finished.
    let outcome: String?
    let idempotencyKey: String?
    let leaseOwner: String?
    let leaseExpiresAt: String?
    let cancelRequested: Bool
    let lastError: String?
    let pendingInput: PendingInputView?
    let createdAt: String?
    let updatedAt: String?
    let finishedAt: String?
    let spec: JobSpec
    let attempts: [AttemptView]?

    init(_ job: JobRecord, attempts: [AttemptRecord]? = nil, outcome: AttemptOutcome? = nil) {
        id = job.id
        queue = job.queue
        state = job.state.rawValue
        priority = job.priority
        runAt = Format.isoTime(job.runAt)
        attempt = job.attempt
        attemptsUsed = job.attemptsUsed
        self.outcome = outcome?.rawValue ?? attempts?.first { $0.attempt == job.attempt }?.outcome?.rawValue
        idempotencyKey = job.idempotencyKey
        leaseOwner = job.leaseOwner
        leaseExpiresAt = Format.isoTime(job.leaseExpiresAt)
        cancelRequested = job.cancelRequested
        lastError = job.lastError
        pendingInput = job.pendingInput.map(PendingInputView.init)
        createdAt = Format.isoTime(job.createdAt)
        updatedAt = Format.isoTime(job.updatedAt)
        finishedAt = Format.isoTime(job.finishedAt)
        spec = job.spec
        self.attempts = attempts.map { $0.map(AttemptView.init) }
    }
}

/// The input a waiting job waits for, as a JSON object, so that an application
/// reads it without decoding a string. Stored text that is not a known
/// `PendingInput` is printed as the string it is.
enum PendingInputView: Encodable {
    case input(PendingInput)
    case text(String)

    init(_ stored: String) {
        self = PendingInput.decode(stored).map(PendingInputView.input) ?? .text(stored)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .input(let input): try container.encode(input)
        case .text(let text): try container.encode(text)
        }
    }
}

struct AttemptView: Encodable {
    let attempt: Int
    let worker: String
    let containerName: String?
    let containerID: String?
    let claimedAt: String?
    let startedAt: String?
    let finishedAt: String?
    let exitCode: Int32?
    let outcome: String?
    let stopIntent: String?
    let message: String?
    let resumedFrom: Int64?
    let storedBytes: Int64
    let droppedLines: Int64

    init(_ attempt: AttemptRecord) {
        self.attempt = attempt.attempt
        worker = attempt.workerID
        containerName = attempt.containerName
        containerID = attempt.containerID
        claimedAt = Format.isoTime(attempt.claimedAt)
        startedAt = Format.isoTime(attempt.startedAt)
        finishedAt = Format.isoTime(attempt.finishedAt)
        exitCode = attempt.exitCode
        outcome = attempt.outcome?.rawValue
        stopIntent = attempt.stopIntent
        message = attempt.message
        resumedFrom = attempt.resumedFrom
        storedBytes = attempt.storedBytes
        droppedLines = attempt.droppedLines
    }
}

/// Parses job ids given as arguments.
func jobIDs(_ positionals: [String], command: String) throws -> [Int64] {
    guard !positionals.isEmpty else {
        throw UsageError("no job id given; `berth ls` lists jobs", command: command)
    }
    var seen = Set<Int64>()
    var ids: [Int64] = []
    for text in positionals {
        guard let id = Int64(text), id > 0 else {
            throw UsageError("\(text) is not a job id; ids are positive integers as printed by `berth submit` and `berth ls`", command: command)
        }
        // An id given twice names one job, which is acted on and reported once.
        if seen.insert(id).inserted { ids.append(id) }
    }
    return ids
}

extension String {
    /// Returns the string with zeros in front, up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

import BerthCore
import BerthDaemon
import BerthStore
import Foundation

/// One `berth` subcommand.
protocol Command: Sendable {
    var name: String { get }
    /// One line for the command list.
    var summary: String { get }
    /// The synopsis after `berth NAME`, such as `[options] ID...`.
    var usage: String { get }
    /// Longer help shown below the synopsis; may be empty.
    var details: String { get }
    var options: [OptionDefinition] { get }

    func run(_ arguments: ParsedArguments, context: CommandContext) throws
}

extension Command {
    var details: String { "" }

    /// The full `--help` text.
    var helpText: String {
        var text = "Usage: berth \(name) \(usage)\n\n\(summary)\n"
        if !details.isEmpty {
            text += "\n\(details)\n"
        }
        let allOptions = options + CommandContext.globalOptions + [.flag("help", "Show this help.")]
        text += "\nOptions:\n"
        let labels = allOptions.map { option in
            "  --\(option.name)" + (option.valueName.map { " \($0)" } ?? "")
        }
        let width = min((labels.map(\.count).max() ?? 0) + 2, 30)
        for (label, option) in zip(labels, allOptions) {
            let padding = label.count < width ? String(repeating: " ", count: width - label.count) : "\n" + String(repeating: " ", count: width)
            text += label + padding + option.help + (option.repeatable ? " Repeatable." : "") + "\n"
        }
        return text
    }
}

/// A failure to report on standard error, with exit status 1 unless the
/// command gives a more specific one, such as `berth wait`'s timeout.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let status: Int32

    init(_ description: String, status: Int32 = BerthCommandLine.ExitStatus.failure) {
        self.description = description
        self.status = status
    }
}

/// What a command runs with: its output streams, the environment and the database.
final class CommandContext {
    static let globalOptions: [OptionDefinition] = [
        .value("db", "PATH", "Job database file. Defaults to $BERTH_DB, then /var/lib/berth/berth.db for root or ~/.local/state/berth/berth.db."),
    ]

    let environment: [String: String]
    var standardOutput: TextOutput
    var standardError: TextOutput
    private let databasePathOverride: String?
    private var openedStore: JobStore?

    init(environment: [String: String], databasePath: String?, standardOutput: TextOutput, standardError: TextOutput) {
        self.environment = environment
        self.databasePathOverride = databasePath
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// The database path given with --db or $BERTH_DB, if any.
    var explicitDatabasePath: String? {
        databasePathOverride ?? environment["BERTH_DB"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var databasePath: String {
        if let databasePathOverride { return databasePathOverride }
        if let fromEnvironment = environment["BERTH_DB"], !fromEnvironment.isEmpty { return fromEnvironment }
        return DatabaseOptions.defaultPath(environment: environment)
    }

    /// Opens the job store on first use and migrates it.
    ///
    /// Only a command that adds jobs, with `creatingDatabase`, creates a
    /// missing database. Every other command fails, so that a mistyped `--db`
    /// or a missing `$BERTH_DB` is noticed and no empty database appears. A database that this process cannot write, such as one on a
    /// file system mounted read-only, is opened read-only, so that the
    /// commands that only read still work. A command that writes then fails
    /// with SQLite's read-only error.
    func store(creatingDatabase: Bool = false) throws -> JobStore {
        if let openedStore { return openedStore }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: databasePath, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CommandFailure(
                "\(databasePath) is a directory; give --db (or $BERTH_DB) the path of the database file, such as "
                    + URL(fileURLWithPath: databasePath).appendingPathComponent("berth.db").path)
        }
        if !creatingDatabase, !FileManager.default.fileExists(atPath: databasePath) {
            throw CommandFailure(
                "no database at \(databasePath); check --db and $BERTH_DB, or create it with berth submit or by starting berth daemon")
        }
        let isNew = !FileManager.default.fileExists(atPath: databasePath)
        var options = DatabaseOptions(path: databasePath)
        options.busyTimeout = try busyTimeout()
        let store: JobStore
        do {
            store = try JobStore(options: options)
        } catch let error as SQLiteError where error.isReadOnly {
            options.readOnly = true
            store = try JobStore(options: options)
        }
        openedStore = store
        if isNew {
            // A mistyped --db would otherwise send jobs where no daemon looks.
            printError("berth: created a new database at \(databasePath); a daemon runs these jobs only with the same database path")
        }
        return store
    }

    /// Returns how long a command waits for another process's write lock:
    /// $BERTH_BUSY_TIMEOUT (a duration such as 5s), else the store's default of 30 seconds.
    private func busyTimeout() throws -> TimeSpan {
        guard let text = environment["BERTH_BUSY_TIMEOUT"], !text.isEmpty else {
            return DatabaseOptions(path: databasePath).busyTimeout
        }
        guard let timeout = TimeSpan(parsing: text) else {
            throw CommandFailure("BERTH_BUSY_TIMEOUT=\(text) is not a duration; use a number with a unit, such as 5s or 2m, or unset it for the default of 30s")
        }
        return timeout
    }

    func now() -> Int64 { Clock.nowMilliseconds() }

    /// Explains why `text` is not a duration, for an option's error message;
    /// `examples` lists valid ones, such as "30s or 10m".
    static func durationMistake(_ text: String, examples: String) -> String {
        text.trimmingCharacters(in: .whitespaces).hasPrefix("-")
            ? "a duration cannot be negative; use one such as \(examples)"
            : "expected a duration with a unit, such as \(examples)"
    }

    /// Tells daemons on this host that the job table changed; daemons on
    /// other hosts notice at their next poll.
    func wakeLocalDaemons() {
        guard let sockets = try? store().wakeSockets(host: ProcessInfo.processInfo.hostName) else { return }
        for socket in sockets {
            WakeSocket.wake(path: socket)
        }
    }

    func print(_ text: String) {
        standardOutput.write(text + "\n")
    }

    func printError(_ text: String) {
        standardError.write(text + "\n")
    }
}

/// A destination for text, buffered so that large listings are written in few system calls.
final class TextOutput {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(64 * 1024)
    }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 64 * 1024 {
            flush()
        }
    }

    func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                // A closed pipe (such as `berth ls | head`) ends the output quietly.
                break
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit {
        flush()
    }
}

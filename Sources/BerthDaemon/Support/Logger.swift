import Foundation
import Synchronization

/// Structured fields attached to log records. Names follow journald's
/// conventions so that `journalctl -u berth JOB_ID=42` can filter on them.
public enum LogField: String, Sendable, CaseIterable {
    case jobID = "JOB_ID"
    case attempt = "ATTEMPT"
    case queue = "QUEUE"
    case containerID = "CONTAINER_ID"
    case workerID = "WORKER_ID"
    case error = "ERROR"
    /// Why something happened, in words: a stop intent, an outcome's message.
    case reason = "REASON"
    case exitCode = "EXIT_CODE"
    case version = "BERTH_VERSION"
    /// The configuration file read, or "none" when the built-in defaults apply.
    case configurationFile = "CONFIG_FILE"
    case databasePath = "DATABASE_PATH"
    /// A directory the daemon manages, such as a job's workspace.
    case directory = "DIRECTORY"
    /// The engine's kind and the path of its command-line tool.
    case engine = "ENGINE"
}

/// Where log records go.
public protocol LogSink: Sendable {
    func write(level: DaemonConfiguration.LogLevel, message: String, fields: [(LogField, String)])
}

/// One readable line per record on standard error: time, level, message and ids.
public final class StandardErrorSink: LogSink {
    private let lock = Mutex(())

    public init() {}

    public func write(level: DaemonConfiguration.LogLevel, message: String, fields: [(LogField, String)]) {
        var line = "\(Self.timestamp()) \(level.rawValue) \(message)"
        for (field, value) in fields {
            line += " \(field.rawValue)=\(value.contains(" ") ? "\"\(value)\"" : value)"
        }
        line += "\n"
        lock.withLock { _ in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1_000_000))
    }
}

/// The daemon's logger: constant messages, ids as fields, a minimum level.
/// Messages must never contain a secret value.
public struct Logger: Sendable {
    public let minimumLevel: DaemonConfiguration.LogLevel
    private let sink: any LogSink
    private let fields: [(LogField, String)]

    public init(minimumLevel: DaemonConfiguration.LogLevel, sink: any LogSink = StandardErrorSink()) {
        self.minimumLevel = minimumLevel
        self.sink = sink
        self.fields = []
    }

    private init(minimumLevel: DaemonConfiguration.LogLevel, sink: any LogSink, fields: [(LogField, String)]) {
        self.minimumLevel = minimumLevel
        self.sink = sink
        self.fields = fields
    }

    /// A logger that adds `extra` fields to every record.
    public func with(_ extra: [(LogField, String)]) -> Logger {
        Logger(minimumLevel: minimumLevel, sink: sink, fields: fields + extra)
    }

    public func log(_ level: DaemonConfiguration.LogLevel, _ message: String, _ extra: [(LogField, String)] = []) {
        guard level >= minimumLevel else { return }
        sink.write(level: level, message: message, fields: fields + extra)
    }

    public func debug(_ message: String, _ extra: [(LogField, String)] = []) { log(.debug, message, extra) }
    public func info(_ message: String, _ extra: [(LogField, String)] = []) { log(.info, message, extra) }
    public func warning(_ message: String, _ extra: [(LogField, String)] = []) { log(.warning, message, extra) }
    public func error(_ message: String, _ extra: [(LogField, String)] = []) { log(.error, message, extra) }
}

/// Logs a repeated error once per interval with a count, instead of once per occurrence.
public final class RepeatedErrorLimiter: Sendable {
    private struct Entry {
        var lastLogged: ContinuousClock.Instant
        var suppressed: Int
    }

    private let interval: Duration
    private let entries = Mutex([String: Entry]())

    public init(interval: Duration = .seconds(60)) {
        self.interval = interval
    }

    /// Returns the number of occurrences suppressed since the last logged one
    /// when `key` should be logged now, or nil when it should stay quiet.
    public func shouldLog(_ key: String) -> Int? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard var entry = entries[key] else {
                entries[key] = Entry(lastLogged: now, suppressed: 0)
                return 0
            }
            if now - entry.lastLogged >= interval {
                let suppressed = entry.suppressed
                entry = Entry(lastLogged: now, suppressed: 0)
                entries[key] = entry
                return suppressed
            }
            entry.suppressed += 1
            entries[key] = entry
            return nil
        }
    }

    /// Forgets `key`, so that the next occurrence is logged at once (after recovery).
    public func reset(_ key: String) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }
}

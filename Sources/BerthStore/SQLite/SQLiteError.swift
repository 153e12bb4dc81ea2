import CSQLite
import Glibc

/// A failed SQLite call: the extended result code, SQLite's message and the
/// statement it ran. Bound values are never part of the description, so
/// secrets or payloads cannot reach a log through it.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The extended result code, such as `SQLITE_BUSY_SNAPSHOT`.
    public let code: Int32
    public let message: String
    public let sql: String?
    /// The database file, when the error came from an open connection.
    public internal(set) var path: String?
    /// The `errno` of the system call that failed, such as `ENOSPC`, or 0.
    public internal(set) var systemErrno: Int32 = 0
    /// How long the call waited for another connection's lock before it gave up.
    public internal(set) var waitedMilliseconds: Int64?

    init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The primary result code, with the extended bits masked off.
    public var primaryCode: Int32 { code & 0xff }

    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    public var isConstraintViolation: Bool { primaryCode == SQLITE_CONSTRAINT }
    public var isReadOnly: Bool { primaryCode == SQLITE_READONLY }
    /// SQLite reports a full file system as `SQLITE_FULL` when a write to the
    /// database or its WAL fails, but as an I/O error (such as
    /// `SQLITE_IOERR_SHMSIZE`) when the shared-memory file cannot grow, so the
    /// system's `errno` is checked too.
    public var isDiskFull: Bool { primaryCode == SQLITE_FULL || systemErrno == ENOSPC || systemErrno == EDQUOT }

    public var description: String {
        let name = String(cString: sqlite3_errstr(code))
        var text = path.map { "database \($0): " } ?? ""
        if isDiskFull {
            text += "disk full (no space left on device): "
        } else if isBusy, path != nil {
            text += "locked by another process: "
        }
        text += "SQLite error \(code) (\(name))"
        // SQLite's message is often the code's own name, such as "database is locked".
        if message != name { text += ": \(message)" }
        if systemErrno != 0, !isBusy {
            text += " (\(String(cString: strerror(systemErrno))))"
        }
        if let waitedMilliseconds {
            text += " after waiting \(waitedMilliseconds) ms for the lock"
        }
        if let sql {
            let statement = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            text += " while running: \(statement.prefix(200))"
        }
        text += remedy
        return text
    }

    /// The operator's next step, as a sentence that starts with ". ", or "" when there is none to suggest.
    private var remedy: String {
        let directory = path.map { Self.directory(of: $0) } ?? "the database's directory"
        if isDiskFull {
            return ". Free space on the file system that holds \(directory) (`df \(directory)` shows it) and try again"
        }
        if isBusy {
            return ". Another process kept a write transaction open for longer than the busy timeout; end that process's transaction (`fuser \(path ?? "the database file")` lists the processes that have the file open), or try again, with a longer wait if needed ($BERTH_BUSY_TIMEOUT, such as 2m, for the command line; database.busyTimeout for the daemon)"
        }
        if isReadOnly {
            return ". Check that the database file and \(directory) are writable by this user and that their file system is not mounted read-only"
        }
        return ""
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> Substring {
        let start = firstIndex { !set.contains($0) } ?? endIndex
        let end = lastIndex { !set.contains($0) }.map { index(after: $0) } ?? start
        return self[start..<end]
    }
}

extension Set where Element == Character {
    fileprivate static let whitespaces: Set<Character> = [" ", "\t"]
}

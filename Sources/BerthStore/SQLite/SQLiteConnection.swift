import BerthCore
import CSQLite
import Foundation

/// One SQLite connection with a cache of prepared statements.
///
/// Not thread-safe: one thread at a time, or the serial queue of a
/// `DatabaseQueue`, may use it. It is deliberately not `Sendable`.
public final class SQLiteConnection {
    let handle: OpaquePointer
    public let path: String
    private var statements: [String: Statement] = [:]
    private let busyTimeout: TimeSpan

    /// Opens (and creates when missing) the database at `path`.
    ///
    /// `busyTimeout` bounds how long a call waits for another process's write
    /// lock before it fails with `SQLITE_BUSY`. A read-write open of a file
    /// that this process cannot write fails with `SQLITE_READONLY` at once,
    /// instead of at the first write. A read-only open of a database on a file
    /// system mounted read-only opens it as immutable, because SQLite cannot
    /// create the WAL's shared-memory file there and no process can change it.
    init(path: String, readOnly: Bool = false, busyTimeout: TimeSpan) throws(SQLiteError) {
        Self.configureLibrary
        var handle: OpaquePointer?
        var flags = readOnly
            ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        var name = path
        if readOnly, Self.isOnReadOnlyFileSystem(path) {
            name = "file:" + Self.percentEncoded(path) + "?immutable=1"
            flags |= SQLITE_OPEN_URI
        }
        let code = sqlite3_open_v2(name, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            var error = SQLiteError(code: code, message: "cannot open the file: \(handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory")")
            error.path = path
            error.systemErrno = handle.map { sqlite3_system_errno($0) } ?? 0
            sqlite3_close_v2(handle)
            throw error
        }
        if !readOnly, sqlite3_db_readonly(handle, "main") == 1 {
            // SQLite falls back to read-only when the file cannot be opened for writing.
            sqlite3_close_v2(handle)
            var error = SQLiteError(
                code: SQLITE_READONLY,
                message: "the file is read-only for this process, through its mode or a file system mounted read-only, and this command writes to it")
            error.path = path
            throw error
        }
        self.handle = handle
        self.path = path
        self.busyTimeout = busyTimeout
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, Int32(clamping: busyTimeout.milliseconds))
    }

    /// Settings of the SQLite library as a whole, which SQLite accepts only
    /// before its first connection opens. If anything opened one earlier,
    /// `sqlite3_config` refuses and the defaults stay, which only costs speed.
    private static let configureLibrary: Void = {
        _ = csqlite_disable_memory_statistics()
    }()

    /// Returns whether the file system that contains `path` is mounted read-only.
    private static func isOnReadOnlyFileSystem(_ path: String) -> Bool {
        var status = statvfs()
        guard statvfs(path, &status) == 0 else { return false }
        return status.f_flag & UInt(ST_RDONLY) != 0
    }

    /// Encodes `path` for an SQLite URI, in which `?`, `#` and `%` have a meaning.
    private static func percentEncoded(_ path: String) -> String {
        var encoded = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "%"), 0x80...0xFF, 0...0x20:
                encoded += String(format: "%%%02X", byte)
            default:
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return encoded
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(code: Int32, sql: String? = nil) -> SQLiteError {
        var error = SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        error.path = path
        error.systemErrno = sqlite3_system_errno(handle)
        return error
    }

    /// Returns the cached prepared statement for `sql`, preparing it on first use.
    func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let statement = statements[sql] {
            return statement
        }
        let statement = try Statement(connection: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs one or more statements that take no parameters, such as a migration script.
    func executeScript(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        guard code == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            var error = SQLiteError(code: sqlite3_extended_errcode(handle), message: text, sql: sql)
            error.path = path
            error.systemErrno = sqlite3_system_errno(handle)
            throw error
        }
    }

    /// Runs `sql` with `values` and discards any rows.
    func execute(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) {
        let statement = try statement(sql)
        try statement.bind(values)
        try statement.run()
    }

    /// Runs a query and maps every row.
    func query<T>(_ sql: String, _ values: [SQLiteValue] = [], _ map: (Row) throws(SQLiteError) -> T) throws(SQLiteError) -> [T] {
        let statement = try statement(sql)
        try statement.bind(values)
        return try statement.rows(map)
    }

    /// Runs a query and maps its first row.
    func queryFirst<T>(_ sql: String, _ values: [SQLiteValue] = [], _ map: (Row) throws(SQLiteError) -> T) throws(SQLiteError) -> T? {
        let statement = try statement(sql)
        try statement.bind(values)
        return try statement.firstRow(map)
    }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes64(handle)) }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction, committing on return and
    /// rolling back on a thrown error.
    ///
    /// IMMEDIATE takes the write lock up front. A deferred transaction that
    /// reads first and writes later can fail with `SQLITE_BUSY_SNAPSHOT`
    /// without waiting, which would reach users as "database is locked".
    /// BEGIN and COMMIT run as cached prepared statements, because the daemon
    /// commits twice per job and parsing them each time showed in profiles.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try beginWithRetry("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? executeScript("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` in a deferred transaction so that its reads see one snapshot.
    func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN DEFERRED")
        defer { try? execute("COMMIT") }
        return try body()
    }

    /// Begins a transaction, waiting out `SQLITE_BUSY` that the busy handler
    /// gave up on (it is not called in some lock states) until `busyTimeout` has
    /// passed in total.
    private func beginWithRetry(_ sql: String) throws(SQLiteError) {
        let started = ContinuousClock.now
        let deadline = started + .milliseconds(busyTimeout.milliseconds)
        var pause = Duration.milliseconds(1)
        while true {
            do {
                try execute(sql)
                return
            } catch where error.isBusy && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18 + Double(pause.components.seconds))
                pause = min(pause * 2, .milliseconds(100))
            } catch where error.isBusy {
                var error = error
                let waited = ContinuousClock.now - started
                error.waitedMilliseconds = waited.components.seconds * 1000 + waited.components.attoseconds / 1_000_000_000_000_000
                throw error
            }
        }
    }

    /// The SQLite library version, such as `3.40.1`.
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}

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
    /// lock before it fails with `SQLITE_BUSY`.
    init(path: String, readOnly: Bool = false, busyTimeout: TimeSpan) throws(SQLiteError) {
        var handle: OpaquePointer?
        let flags = readOnly
            ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw SQLiteError(code: code, message: "cannot open \(path): \(message)")
        }
        self.handle = handle
        self.path = path
        self.busyTimeout = busyTimeout
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, Int32(clamping: busyTimeout.milliseconds))
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(code: Int32, sql: String? = nil) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
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
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: text, sql: sql)
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
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try beginWithRetry("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try executeScript("COMMIT")
            return result
        } catch {
            try? executeScript("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` in a deferred transaction so that its reads see one snapshot.
    func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try executeScript("BEGIN DEFERRED")
        defer { try? executeScript("COMMIT") }
        return try body()
    }

    /// Begins a transaction, waiting out `SQLITE_BUSY` that the busy handler
    /// gave up on (it is not called in some lock states) until `busyTimeout` has
    /// passed in total.
    private func beginWithRetry(_ sql: String) throws(SQLiteError) {
        let deadline = ContinuousClock.now + .milliseconds(busyTimeout.milliseconds)
        var pause = Duration.milliseconds(1)
        while true {
            do {
                try executeScript(sql)
                return
            } catch where error.isBusy && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18 + Double(pause.components.seconds))
                pause = min(pause * 2, .milliseconds(100))
            }
        }
    }

    /// The SQLite library version, such as `3.40.1`.
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}

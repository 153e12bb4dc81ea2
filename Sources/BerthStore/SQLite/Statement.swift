import CSQLite

/// A prepared statement, owned by one `SQLiteConnection` and reused across calls.
///
/// Not thread-safe, like the connection that owns it.
final class Statement {
    let handle: OpaquePointer
    let sql: String
    private unowned let connection: SQLiteConnection

    init(connection: SQLiteConnection, sql: String) throws(SQLiteError) {
        var handle: OpaquePointer?
        let code = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard code == SQLITE_OK, let handle else {
            throw connection.error(code: code, sql: sql)
        }
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Resets the statement and binds `values` to its parameters in order.
    func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .integer(let number):
                code = sqlite3_bind_int64(handle, index, number)
            case .real(let number):
                code = sqlite3_bind_double(handle, index, number)
            case .text(let text):
                code = bindText(text, at: index)
            case .null:
                code = sqlite3_bind_null(handle, index)
            }
            guard code == SQLITE_OK else { throw connection.error(code: code, sql: sql) }
        }
    }

    /// Binds UTF-8 bytes as text without building a `String` first.
    func bindText(bytes: UnsafeRawBufferPointer, at index: Int32) throws(SQLiteError) {
        // SQLite reads a NULL pointer as SQL NULL, so an empty line needs a real address.
        let empty: CChar = 0
        let code = withUnsafePointer(to: empty) { emptyPointer in
            sqlite3_bind_text(
                handle, index, bytes.baseAddress?.assumingMemoryBound(to: CChar.self) ?? emptyPointer,
                Int32(bytes.count), csqlite_transient())
        }
        guard code == SQLITE_OK else { throw connection.error(code: code, sql: sql) }
    }

    func bind(_ value: Int64, at index: Int32) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bindNull(at index: Int32) {
        sqlite3_bind_null(handle, index)
    }

    func reset() {
        sqlite3_reset(handle)
    }

    private func bindText(_ text: String, at index: Int32) -> Int32 {
        var text = text
        return text.withUTF8 { bytes in
            // Bind with an explicit length so text with NUL bytes keeps them all.
            withUnsafeBytes(of: 0 as CChar) { empty in
                let pointer = UnsafeRawPointer(bytes.baseAddress) ?? empty.baseAddress!
                return sqlite3_bind_text(
                    handle, index, pointer.assumingMemoryBound(to: CChar.self), Int32(bytes.count), csqlite_transient())
            }
        }
    }

    /// Advances to the next row; false when the statement is done.
    func step() throws(SQLiteError) -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            return false
        default:
            let error = connection.error(code: code, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement to completion, ignoring any rows.
    func run() throws(SQLiteError) {
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Runs the statement and maps every row.
    func rows<T>(_ map: (Row) throws(SQLiteError) -> T) throws(SQLiteError) -> [T] {
        var results: [T] = []
        while try step() {
            results.append(try map(Row(statement: handle)))
        }
        sqlite3_reset(handle)
        return results
    }

    /// Runs the statement and maps its first row, if any.
    func firstRow<T>(_ map: (Row) throws(SQLiteError) -> T) throws(SQLiteError) -> T? {
        defer { sqlite3_reset(handle) }
        guard try step() else { return nil }
        return try map(Row(statement: handle))
    }
}

/// The current row of a statement, read by column index.
struct Row {
    let statement: OpaquePointer

    func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(statement, column) == SQLITE_NULL
    }

    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(statement, column)
    }

    func int(_ column: Int32) -> Int {
        Int(sqlite3_column_int64(statement, column))
    }

    func optionalInt64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : int64(column)
    }

    func double(_ column: Int32) -> Double {
        sqlite3_column_double(statement, column)
    }

    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? {
        isNull(column) ? nil : text(column)
    }

    func bool(_ column: Int32) -> Bool {
        sqlite3_column_int64(statement, column) != 0
    }
}

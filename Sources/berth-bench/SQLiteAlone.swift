import BerthStore
import CSQLite
import Foundation

/// SQLite alone: the rows of a store figure written through SQLite's C API
/// with prepared statements, on a database that berth created, so with the
/// product's schema, pragmas and indexes. Nothing of berth's reading,
/// validation, threads or supervision runs, so the rate is the most that the
/// store could reach on this machine. A target above it cannot be met here by
/// any change to berth's own code.
enum SQLiteAlone {
    /// A job as `berth submit` stores it: its queue, canonical JSON and idempotency key.
    struct JobRow {
        var queue: String
        var json: String
        var idempotencyKey: String
    }

    /// Says whether `target` lies above the rate that SQLite alone reached.
    static func verdict(sqliteAlone rate: Double, target: Double) -> String {
        guard Comparison.judgesTargets else { return "not compared with the target at --quick sizes" }
        let position = target > rate ? "above" : "below"
        return "the target of \(format(target)) is \(position) the rate of SQLite alone on this machine"
    }

    /// Inserts `rows` in one transaction, each after a lookup of its
    /// idempotency key, as `berth submit --file` does. Returns rows per second.
    static func submission(database: String, rows: [JobRow]) throws -> Double {
        let connection = try RawConnection(path: database)
        let lookup = try connection.prepare("SELECT id FROM jobs WHERE idempotency_key = ?")
        let insert = try connection.prepare("""
            INSERT INTO jobs (queue, state, priority, run_at, spec, idempotency_key, created_at, updated_at)
            VALUES (?, 'queued', 0, ?, ?, ?, ?, ?)
            ON CONFLICT (idempotency_key) DO NOTHING
            """)
        let now = Clock.nowMilliseconds()

        let start = ContinuousClock.now
        try connection.execute("BEGIN IMMEDIATE")
        for row in rows {
            lookup.bind(1, row.idempotencyKey)
            try lookup.run()
            insert.bind(1, row.queue)
            insert.bind(2, now)
            insert.bind(3, row.json)
            insert.bind(4, row.idempotencyKey)
            insert.bind(5, now)
            insert.bind(6, now)
            try insert.run()
        }
        try connection.execute("COMMIT")
        return Double(rows.count) / (ContinuousClock.now - start).seconds
    }

    /// Finishes each attempt and claims the next ready job in one
    /// transaction, with the statements of the daemon's path, until no job is
    /// ready. Returns jobs per second and the CPU time per job in microseconds.
    static func queue(database: String) throws -> (rate: Double, cpuMicroseconds: Double) {
        let connection = try RawConnection(path: database)
        let claim = try connection.prepare("""
            UPDATE jobs
            SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_expires_at = ?2,
                cancel_requested = 0, updated_at = ?3
            WHERE id = (
                SELECT id FROM jobs INDEXED BY jobs_ready
                WHERE state IN ('queued', 'failed') AND run_at <= ?3
                ORDER BY priority DESC, run_at, id
                LIMIT 1)
            RETURNING id, attempt, queue, spec, attempts_used, resume_from, input_answer
            """)
        let insertAttempt = try connection.prepare(
            "INSERT INTO attempts (job_id, attempt, worker_id, claimed_at, resumed_from) VALUES (?, ?, ?, ?, NULL)")
        let finishJob = try connection.prepare("""
            UPDATE jobs
            SET state = 'succeeded', run_at = COALESCE(NULL, run_at), attempts_used = attempts_used + 1,
                finished_at = ?1, last_error = NULL, updated_at = ?1,
                lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
            WHERE id = ?2 AND attempt = ?3 AND lease_owner = ?4 AND state = 'running'
            """)
        let finishAttempt = try connection.prepare(
            "UPDATE attempts SET finished_at = ?, exit_code = 0, outcome = 'succeeded', message = NULL WHERE job_id = ? AND attempt = ?")
        let worker = "sqlite-alone"

        let cpuBefore = Machine.cpuSeconds(pid: getpid()) ?? 0
        let start = ContinuousClock.now
        var running: (id: Int64, attempt: Int64)? = nil
        var finished = 0
        repeat {
            let now = Clock.nowMilliseconds()
            try connection.execute("BEGIN IMMEDIATE")
            if let (id, attempt) = running {
                finishJob.bind(1, now)
                finishJob.bind(2, id)
                finishJob.bind(3, attempt)
                finishJob.bind(4, worker)
                try finishJob.run()
                finishAttempt.bind(1, now)
                finishAttempt.bind(2, id)
                finishAttempt.bind(3, attempt)
                try finishAttempt.run()
                finished += 1
            }
            claim.bind(1, worker)
            claim.bind(2, now + 60_000)
            claim.bind(3, now)
            running = try claim.firstRow { statement in
                // The spec is read as the daemon reads it, though not decoded.
                _ = sqlite3_column_text(statement, 3)
                return (sqlite3_column_int64(statement, 0), sqlite3_column_int64(statement, 1))
            }
            if let (id, attempt) = running {
                insertAttempt.bind(1, id)
                insertAttempt.bind(2, attempt)
                insertAttempt.bind(3, worker)
                insertAttempt.bind(4, now)
                try insertAttempt.run()
            }
            try connection.execute("COMMIT")
        } while running != nil
        let seconds = (ContinuousClock.now - start).seconds
        let cpu = (Machine.cpuSeconds(pid: getpid()) ?? 0) - cpuBefore
        return (Double(finished) / seconds, cpu / Double(max(1, finished)) * 1e6)
    }

    /// Inserts `count` copies of `line` as the events of one attempt, in
    /// transactions of `batchLines` rows, with the daemon's statement.
    /// Returns rows per second.
    static func events(database: String, line: String, count: Int, batchLines: Int) throws -> Double {
        let connection = try RawConnection(path: database)
        let now = Clock.nowMilliseconds()
        try connection.execute("""
            INSERT INTO jobs (id, queue, state, run_at, spec, created_at, updated_at) VALUES (1, 'default', 'running', 0, '{}', 0, 0);
            INSERT INTO attempts (job_id, attempt, worker_id, claimed_at) VALUES (1, 1, 'sqlite-alone', 0);
            """)
        let insert = try connection.prepare("""
            INSERT OR IGNORE INTO events (job_id, attempt, seq, at, type, is_json, truncated, payload)
            VALUES (1, 1, ?, ?, ?, 1, 0, ?)
            """)
        let type = "progress"

        let start = ContinuousClock.now
        var sequence = 0
        while sequence < count {
            try connection.execute("BEGIN IMMEDIATE")
            for _ in 0..<min(batchLines, count - sequence) {
                sequence += 1
                insert.bind(1, Int64(sequence))
                insert.bind(2, now)
                insert.bind(3, type)
                insert.bind(4, line)
                try insert.run()
            }
            try connection.execute("COMMIT")
        }
        return Double(count) / (ContinuousClock.now - start).seconds
    }
}

/// A plain SQLite connection for the SQLite-alone measurements, with the pragmas
/// that berth's store sets: WAL, synchronous normal, foreign keys on.
private final class RawConnection {
    let handle: OpaquePointer
    private var statements: [RawStatement] = []

    init(path: String) throws {
        var handle: OpaquePointer?
        let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil)
        guard status == SQLITE_OK, let handle else {
            sqlite3_close(handle)
            throw BenchError("cannot open \(path) for the SQLite-alone measurement: status \(status)")
        }
        self.handle = handle
        try execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")
    }

    deinit {
        for statement in statements {
            sqlite3_finalize(statement.handle)
        }
        sqlite3_close(handle)
    }

    func execute(_ sql: String) throws {
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
            throw BenchError("SQLite alone: \(String(cString: sqlite3_errmsg(handle))) in \(sql)")
        }
    }

    func prepare(_ sql: String) throws -> RawStatement {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
            throw BenchError("SQLite alone: \(String(cString: sqlite3_errmsg(handle))) in \(sql)")
        }
        let prepared = RawStatement(handle: statement, connection: handle)
        statements.append(prepared)
        return prepared
    }
}

/// A prepared statement of a `RawConnection`, finalized by the connection.
private struct RawStatement {
    let handle: OpaquePointer
    let connection: OpaquePointer

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ index: Int32, _ text: String) {
        // SQLite copies the bytes, which live only during the call.
        text.withCString { bytes in
            _ = sqlite3_bind_text(handle, index, bytes, -1, csqlite_transient())
        }
    }

    /// Steps the statement to its end and resets it.
    func run() throws {
        var status = sqlite3_step(handle)
        while status == SQLITE_ROW {
            status = sqlite3_step(handle)
        }
        sqlite3_reset(handle)
        guard status == SQLITE_DONE else {
            throw BenchError("SQLite alone: \(String(cString: sqlite3_errmsg(connection)))")
        }
    }

    /// Reads the first row with `read`, steps past the rest and resets the statement.
    func firstRow<Row>(_ read: (OpaquePointer) -> Row) throws -> Row? {
        var status = sqlite3_step(handle)
        let row = status == SQLITE_ROW ? read(handle) : nil
        while status == SQLITE_ROW {
            status = sqlite3_step(handle)
        }
        sqlite3_reset(handle)
        guard status == SQLITE_DONE else {
            throw BenchError("SQLite alone: \(String(cString: sqlite3_errmsg(connection)))")
        }
        return row
    }
}

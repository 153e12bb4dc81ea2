import BerthCore
import CSQLite
import Foundation

/// The job database: jobs, attempts, events, checkpoints and workers.
///
/// One instance owns one SQLite connection and is not thread-safe; the daemon
/// confines it to a `DatabaseQueue`, the command line uses it directly.
public final class JobStore {
    let connection: SQLiteConnection
    public let options: DatabaseOptions

    /// Opens the database, creating and migrating it when needed.
    public init(options: DatabaseOptions, now: Int64 = Clock.nowMilliseconds()) throws {
        self.options = options
        if !options.readOnly {
            try DatabaseFile.prepare(options)
        }
        connection = try SQLiteConnection(path: options.path, readOnly: options.readOnly, busyTimeout: options.busyTimeout)
        do {
            try configure()
        } catch let error as SQLiteError where error.primaryCode == SQLITE_NOTADB {
            throw StoreError.notADatabase(path: options.path)
        }
        if options.readOnly {
            let applied = try Migrator.appliedVersion(connection)
            if applied > Migrator.latestVersion {
                throw StoreError.newerSchema(path: options.path, databaseVersion: applied, supportedVersion: Migrator.latestVersion)
            }
        } else {
            try Migrator.migrate(connection, now: now)
        }
    }

    /// The schema version of the open database.
    public func schemaVersion() throws -> Int {
        try Migrator.appliedVersion(connection)
    }

    /// The newest schema version this build of berth supports.
    public static var supportedSchemaVersion: Int { Migrator.latestVersion }

    private func configure() throws {
        if !options.readOnly {
            // Switching to WAL needs a brief exclusive lock, which a second
            // process opening a fresh database at the same moment may hold.
            try setJournalModeWAL()
        }
        try connection.executeScript("PRAGMA synchronous = \(options.synchronous.rawValue.uppercased())")
        try connection.executeScript("PRAGMA foreign_keys = ON")
    }

    private func setJournalModeWAL() throws {
        let deadline = ContinuousClock.now + .milliseconds(options.busyTimeout.milliseconds)
        while true {
            do {
                let mode = try connection.queryFirst("PRAGMA journal_mode = WAL") { $0.text(0) }
                guard mode?.lowercased() == "wal" else {
                    throw SQLiteError(code: SQLITE_ERROR, message: "journal_mode is \(mode ?? "unknown"), expected wal; is the filesystem able to hold a WAL database?")
                }
                return
            } catch let error as SQLiteError where error.isBusy && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.005)
            }
        }
    }

    /// Runs `PRAGMA integrity_check` and returns its lines; `["ok"]` when intact.
    public func integrityCheck() throws -> [String] {
        try connection.query("PRAGMA integrity_check") { $0.text(0) }
    }
}

/// Wall-clock time in the store's canonical form.
public enum Clock {
    /// Returns the current time in Unix milliseconds (UTC).
    public static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

// MARK: - Reading jobs

extension JobStore {
    static let jobColumns = """
        id, queue, state, priority, run_at, spec, idempotency_key, attempt, attempts_used,
        lease_owner, lease_expires_at, cancel_requested, resume_from, pending_input, input_answer,
        last_error, created_at, updated_at, finished_at
        """

    static func jobRecord(_ row: Row) throws(SQLiteError) -> JobRecord {
        let specJSON = row.text(5)
        let spec: JobSpec
        do {
            spec = try JobSpec.decodeStored(json: specJSON)
        } catch {
            throw SQLiteError(code: SQLITE_CORRUPT, message: "job \(row.int64(0)) has a stored spec that cannot be read: \(error)")
        }
        return JobRecord(
            id: row.int64(0),
            queue: row.text(1),
            state: JobState(rawValue: row.text(2)) ?? .dead,
            priority: row.int(3),
            runAt: row.int64(4),
            spec: spec,
            idempotencyKey: row.optionalText(6),
            attempt: row.int(7),
            attemptsUsed: row.int(8),
            leaseOwner: row.optionalText(9),
            leaseExpiresAt: row.optionalInt64(10),
            cancelRequested: row.bool(11),
            resumeFrom: row.optionalInt64(12),
            pendingInput: row.optionalText(13),
            inputAnswer: row.optionalText(14),
            lastError: row.optionalText(15),
            createdAt: row.int64(16),
            updatedAt: row.int64(17),
            finishedAt: row.optionalInt64(18)
        )
    }

    /// Returns the job with `id`, or nil.
    public func job(id: Int64) throws -> JobRecord? {
        try connection.queryFirst("SELECT \(Self.jobColumns) FROM jobs WHERE id = ?", [.integer(id)], Self.jobRecord)
    }

    /// Returns the job with `id`, or throws `StoreError.jobNotFound` when there is none.
    public func requireJob(id: Int64) throws -> JobRecord {
        guard let job = try job(id: id) else { throw StoreError.jobNotFound(id) }
        return job
    }

    /// Jobs matching `filter`, newest first.
    public func jobs(matching filter: JobFilter) throws -> [JobRecord] {
        var conditions: [String] = []
        var values: [SQLiteValue] = []
        if !filter.states.isEmpty {
            conditions.append("state IN (\(filter.states.map { _ in "?" }.joined(separator: ", ")))")
            values += filter.states.map { .text($0.rawValue) }
        }
        if let queue = filter.queue {
            conditions.append("queue = ?")
            values.append(.text(queue))
        }
        for (key, value) in filter.labels.sorted(by: { $0.key < $1.key }) {
            // json_each compares the key as a bound value, so no key can change the query.
            conditions.append("EXISTS (SELECT 1 FROM json_each(spec, '$.labels') WHERE key = ? AND value = ?)")
            values += [.text(key), .text(value)]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        values.append(.integer(Int64(filter.limit)))
        return try connection.query(
            "SELECT \(Self.jobColumns) FROM jobs \(whereClause) ORDER BY id DESC LIMIT ?", values, Self.jobRecord)
    }

    /// Returns the attempts of a job, oldest first.
    public func attempts(jobID: Int64) throws -> [AttemptRecord] {
        try connection.query(
            """
            SELECT job_id, attempt, worker_id, container_name, container_id, claimed_at, started_at,
                   finished_at, exit_code, outcome, stop_intent, message, run_settings, resumed_from,
                   stored_bytes, dropped_lines
            FROM attempts WHERE job_id = ? ORDER BY attempt
            """, [.integer(jobID)]
        ) { row in
            AttemptRecord(
                jobID: row.int64(0), attempt: row.int(1), workerID: row.text(2),
                containerName: row.optionalText(3), containerID: row.optionalText(4),
                claimedAt: row.int64(5), startedAt: row.optionalInt64(6), finishedAt: row.optionalInt64(7),
                exitCode: row.optionalInt64(8).map { Int32(truncatingIfNeeded: $0) },
                outcome: row.optionalText(9).flatMap(AttemptOutcome.init(rawValue:)),
                stopIntent: row.optionalText(10), message: row.optionalText(11),
                runSettings: row.optionalText(12), resumedFrom: row.optionalInt64(13),
                storedBytes: row.int64(14), droppedLines: row.int64(15))
        }
    }

    /// Counts by queue and state, and how long the oldest ready job of each queue has waited.
    public func stats(now: Int64) throws -> QueueStats {
        try connection.readTransaction {
            var rows: [String: QueueStats.Row] = [:]
            let counts = try connection.query("SELECT queue, state, COUNT(*) FROM jobs GROUP BY queue, state") {
                ($0.text(0), $0.text(1), $0.int(2))
            }
            for (queue, state, count) in counts {
                guard let state = JobState(rawValue: state) else { continue }
                rows[queue, default: QueueStats.Row(queue: queue, counts: [:], oldestReadyAge: nil)].counts[state] = count
            }

            let oldest = try connection.query(
                "SELECT queue, MIN(run_at) FROM jobs WHERE state IN ('queued', 'failed') AND run_at <= ? GROUP BY queue",
                [.integer(now)]
            ) { ($0.text(0), $0.int64(1)) }
            for (queue, readySince) in oldest {
                rows[queue]?.oldestReadyAge = max(0, now - readySince)
            }
            return QueueStats(queues: rows.values.sorted { $0.queue < $1.queue })
        }
    }
}

extension JobStore {
    /// A number that changes whenever another connection commits a change to
    /// the database, for cheap polling by `berth wait` and `berth events --follow`.
    public func dataVersion() throws -> Int64 {
        try connection.queryFirst("PRAGMA data_version") { $0.int64(0) } ?? 0
    }

    /// Returns the random id of this database, fixed when it was created.
    public func databaseID() throws -> String {
        try connection.queryFirst("SELECT value FROM database_info WHERE name = 'database_id'") { $0.text(0) } ?? "unknown"
    }

    /// Wake-up sockets of the live daemons on `host`.
    public func wakeSockets(host: String) throws -> [String] {
        try connection.query(
            "SELECT wake_socket FROM workers WHERE host = ? AND stopped_at IS NULL AND wake_socket IS NOT NULL",
            [.text(host)]) { $0.text(0) }
    }
}

import BerthCore

/// One line a job printed, ready to be stored.
public struct StoredLine: Sendable {
    public enum Stream: Sendable {
        /// Standard output: stored as an event.
        case stdout
        /// Standard error: stored as the attempt's log.
        case stderr
    }

    public var stream: Stream
    /// Position of the line in its stream within the attempt, from 1.
    public var sequence: Int64
    public var at: Int64
    /// The JSON object's `type` field; nil for other lines and for logs.
    public var type: String?
    public var isJSON: Bool
    public var truncated: Bool
    public var text: String

    public init(stream: Stream, sequence: Int64, at: Int64, type: String?, isJSON: Bool, truncated: Bool, text: String) {
        self.stream = stream
        self.sequence = sequence
        self.at = at
        self.type = type
        self.isJSON = isJSON
        self.truncated = truncated
        self.text = text
    }
}

/// A stored event, as `berth events` prints it.
public struct EventRecord: Sendable, Equatable {
    public var jobID: Int64
    public var attempt: Int
    public var sequence: Int64
    public var at: Int64
    public var type: String?
    public var isJSON: Bool
    public var truncated: Bool
    public var payload: String
}

/// A stored line of an attempt's standard error.
public struct LogRecord: Sendable, Equatable {
    public var attempt: Int
    public var sequence: Int64
    public var at: Int64
    public var truncated: Bool
    public var line: String
}

extension JobStore {
    /// Stores a batch of output lines of the leased attempt, and the
    /// checkpoints captured for it, in one transaction.
    ///
    /// Lines already stored (same stream, attempt and sequence) are skipped, so a
    /// stream read again after a restart cannot duplicate rows. `storedBytes`
    /// and `droppedLines` are the attempt's running totals. A checkpoint is
    /// committed together with the events that announced it, so a reader that
    /// sees the event also finds the checkpoint.
    public func appendOutput(
        _ lease: Lease, lines: [StoredLine], checkpoints: [NewCheckpoint] = [], storedBytes: Int64, droppedLines: Int64,
        now: Int64
    ) throws {
        try connection.writeTransaction {
            try checkFence(lease, now: now)
            try insertOutput(jobID: lease.jobID, attempt: lease.attempt, lines: lines)
            try insertCheckpoints(jobID: lease.jobID, attempt: lease.attempt, checkpoints, now: now)
            try connection.execute(
                "UPDATE attempts SET stored_bytes = MAX(stored_bytes, ?), dropped_lines = MAX(dropped_lines, ?) WHERE job_id = ? AND attempt = ?",
                [.integer(storedBytes), .integer(droppedLines), .integer(lease.jobID), .integer(Int64(lease.attempt))])
        }
    }

    /// Inserts the lines, binding each value by its index. Per row this skips
    /// the array of values and `sqlite3_clear_bindings` of `bind(_:)`, which
    /// showed in profiles of a job that printed a million lines. The job and
    /// attempt are bound once per call, because `sqlite3_reset` keeps bindings.
    func insertOutput(jobID: Int64, attempt: Int, lines: [StoredLine]) throws {
        let insertEvent = try connection.statement(
            "INSERT OR IGNORE INTO events (job_id, attempt, seq, at, type, is_json, truncated, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        let insertLog = try connection.statement(
            "INSERT OR IGNORE INTO logs (job_id, attempt, seq, at, truncated, line) VALUES (?, ?, ?, ?, ?, ?)")
        for statement in [insertEvent, insertLog] {
            statement.reset()
            statement.bind(jobID, at: 1)
            statement.bind(Int64(attempt), at: 2)
        }

        for line in lines {
            var text = line.text
            switch line.stream {
            case .stdout:
                insertEvent.bind(line.sequence, at: 3)
                insertEvent.bind(line.at, at: 4)
                if var type = line.type {
                    try type.withUTF8 { try insertEvent.bindText(bytes: UnsafeRawBufferPointer($0), at: 5) }
                } else {
                    insertEvent.bindNull(at: 5)
                }
                insertEvent.bind(line.isJSON ? 1 : 0, at: 6)
                insertEvent.bind(line.truncated ? 1 : 0, at: 7)
                try text.withUTF8 { try insertEvent.bindText(bytes: UnsafeRawBufferPointer($0), at: 8) }
                try insertEvent.run()
            case .stderr:
                insertLog.bind(line.sequence, at: 3)
                insertLog.bind(line.at, at: 4)
                insertLog.bind(line.truncated ? 1 : 0, at: 5)
                try text.withUTF8 { try insertLog.bindText(bytes: UnsafeRawBufferPointer($0), at: 6) }
                try insertLog.run()
            }
        }
    }

    /// Events of a job after `afterSequence` of `attempt` (all attempts when nil), in order.
    public func events(jobID: Int64, attempt: Int? = nil, after position: (attempt: Int, sequence: Int64)? = nil, limit: Int = 1000) throws -> [EventRecord] {
        var conditions = ["job_id = ?"]
        var values: [SQLiteValue] = [.integer(jobID)]
        if let attempt {
            conditions.append("attempt = ?")
            values.append(.integer(Int64(attempt)))
        }
        if let position {
            conditions.append("(attempt, seq) > (?, ?)")
            values += [.integer(Int64(position.attempt)), .integer(position.sequence)]
        }
        values.append(.integer(Int64(limit)))
        return try connection.query(
            """
            SELECT job_id, attempt, seq, at, type, is_json, truncated, payload FROM events
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY attempt, seq LIMIT ?
            """, values
        ) { row in
            EventRecord(jobID: row.int64(0), attempt: row.int(1), sequence: row.int64(2), at: row.int64(3),
                        type: row.optionalText(4), isJSON: row.bool(5), truncated: row.bool(6), payload: row.text(7))
        }
    }

    /// Standard error lines of a job, in order.
    public func logs(jobID: Int64, attempt: Int? = nil, after position: (attempt: Int, sequence: Int64)? = nil, limit: Int = 1000) throws -> [LogRecord] {
        var conditions = ["job_id = ?"]
        var values: [SQLiteValue] = [.integer(jobID)]
        if let attempt {
            conditions.append("attempt = ?")
            values.append(.integer(Int64(attempt)))
        }
        if let position {
            conditions.append("(attempt, seq) > (?, ?)")
            values += [.integer(Int64(position.attempt)), .integer(position.sequence)]
        }
        values.append(.integer(Int64(limit)))
        return try connection.query(
            "SELECT attempt, seq, at, truncated, line FROM logs WHERE \(conditions.joined(separator: " AND ")) ORDER BY attempt, seq LIMIT ?",
            values
        ) { row in
            LogRecord(attempt: row.int(0), sequence: row.int64(1), at: row.int64(2), truncated: row.bool(3), line: row.text(4))
        }
    }
}

import BerthCore

/// A checkpoint row: a file the daemon captured from a job's workspace, or
/// refused to capture.
public struct CheckpointRecord: Sendable, Equatable {
    public var id: Int64
    public var jobID: Int64
    /// The attempt during which the file was captured.
    public var attempt: Int
    /// The file name in the job's checkpoint directory.
    public var name: String
    public var sha256: String?
    public var size: Int64?
    /// Absolute path of the copy in the daemon's checkpoint store, or nil when refused.
    public var storedPath: String?
    /// Whether the content passed the adapter's check, so a resume may start from it.
    public var valid: Bool
    /// The reason capture refused the file, or nil when it was stored.
    public var refusedReason: String?
    /// The adapter's reason why stored content is not valid. It is nil for valid
    /// content, and for rows captured before berth stored the reason.
    public var invalidReason: String?
    /// Fields the adapter read from the content, as a JSON object.
    public var metadata: String?
    /// Set when an operator resumed from an earlier checkpoint, so it is never chosen again.
    public var superseded: Bool
    public var capturedAt: Int64

    /// Whether a resume may start from this checkpoint.
    public var isResumable: Bool { valid && storedPath != nil && !superseded }
}

/// A checkpoint to record, as capture produced it.
public struct NewCheckpoint: Sendable, Equatable {
    public var name: String
    public var sha256: String?
    public var size: Int64?
    public var storedPath: String?
    public var valid: Bool
    public var refusedReason: String?
    public var invalidReason: String?
    public var metadata: String?

    /// Makes the row of a file copied into the checkpoint store.
    /// `invalidReason` is the problem with content that is not valid, and nil for valid content.
    public static func stored(
        name: String, sha256: String, size: Int64, storedPath: String, invalidReason: String? = nil, metadata: String?
    ) -> NewCheckpoint {
        NewCheckpoint(
            name: name, sha256: sha256, size: size, storedPath: storedPath, valid: invalidReason == nil, refusedReason: nil,
            invalidReason: invalidReason, metadata: metadata)
    }

    /// Makes the row of a file that capture refused, with the reason.
    public static func refused(name: String, reason: String, size: Int64? = nil) -> NewCheckpoint {
        NewCheckpoint(
            name: name, sha256: nil, size: size, storedPath: nil, valid: false, refusedReason: reason, invalidReason: nil, metadata: nil)
    }
}

/// An operator chose a checkpoint that a resume cannot start from.
public struct CheckpointNotResumable: Error, CustomStringConvertible, Equatable {
    public let jobID: Int64
    public let name: String
    public let reason: String

    public init(jobID: Int64, name: String, reason: String) {
        self.jobID = jobID
        self.name = name
        self.reason = reason
    }

    public var description: String {
        "job \(jobID): cannot resume from checkpoint \(name): \(reason); `berth checkpoints \(jobID)` lists the valid ones"
    }
}

extension JobStore {
    static let checkpointColumns = """
        id, job_id, attempt, name, sha256, size, stored_path, valid, refused_reason, metadata, superseded, captured_at,
        invalid_reason
        """

    static func checkpointRecord(_ row: Row) -> CheckpointRecord {
        CheckpointRecord(
            id: row.int64(0), jobID: row.int64(1), attempt: row.int(2), name: row.text(3), sha256: row.optionalText(4),
            size: row.optionalInt64(5), storedPath: row.optionalText(6), valid: row.bool(7),
            refusedReason: row.optionalText(8), invalidReason: row.optionalText(12), metadata: row.optionalText(9),
            superseded: row.bool(10), capturedAt: row.int64(11))
    }

    /// Returns the checkpoints of a job, refused ones included, oldest first.
    public func checkpoints(jobID: Int64) throws -> [CheckpointRecord] {
        try connection.query(
            "SELECT \(Self.checkpointColumns) FROM checkpoints WHERE job_id = ? ORDER BY id", [.integer(jobID)],
            Self.checkpointRecord)
    }

    /// Returns the checkpoint with `id`, or nil.
    public func checkpoint(id: Int64) throws -> CheckpointRecord? {
        try connection.queryFirst(
            "SELECT \(Self.checkpointColumns) FROM checkpoints WHERE id = ?", [.integer(id)], Self.checkpointRecord)
    }

    /// Records checkpoints captured outside an output batch, such as the scan
    /// before an attempt starts, fenced by the attempt's lease.
    public func recordCheckpoints(_ lease: Lease, _ checkpoints: [NewCheckpoint], now: Int64) throws {
        guard !checkpoints.isEmpty else { return }
        try connection.writeTransaction {
            try checkFence(lease, now: now)
            try insertCheckpoints(jobID: lease.jobID, attempt: lease.attempt, checkpoints, now: now)
        }
    }

    /// Inserts checkpoint rows inside the caller's write transaction.
    ///
    /// A stored file whose name and digest the job already has keeps its row,
    /// and loses a superseded mark, because the job wrote it again. A refusal is skipped when the same name was already
    /// refused for the same reason, so a file the job leaves in place is
    /// recorded once, not at every scan.
    func insertCheckpoints(jobID: Int64, attempt: Int, _ checkpoints: [NewCheckpoint], now: Int64) throws {
        let insertStored = try connection.statement(
            """
            INSERT INTO checkpoints
                (job_id, attempt, name, sha256, size, stored_path, valid, refused_reason, invalid_reason, metadata, captured_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)
            ON CONFLICT (job_id, name, sha256) DO UPDATE SET superseded = 0
            """)
        let insertRefused = try connection.statement(
            """
            INSERT INTO checkpoints (job_id, attempt, name, size, valid, refused_reason, captured_at)
            SELECT ?1, ?2, ?3, ?4, 0, ?5, ?6
            WHERE NOT EXISTS (
                SELECT 1 FROM checkpoints WHERE job_id = ?1 AND name = ?3 AND sha256 IS NULL AND refused_reason = ?5)
            """)
        for checkpoint in checkpoints {
            if let reason = checkpoint.refusedReason {
                try insertRefused.bind([
                    .integer(jobID), .integer(Int64(attempt)), .text(checkpoint.name), SQLiteValue(checkpoint.size),
                    .text(reason), .integer(now),
                ])
                try insertRefused.run()
            } else {
                try insertStored.bind([
                    .integer(jobID), .integer(Int64(attempt)), .text(checkpoint.name), SQLiteValue(checkpoint.sha256),
                    SQLiteValue(checkpoint.size), SQLiteValue(checkpoint.storedPath), SQLiteValue(checkpoint.valid),
                    SQLiteValue(checkpoint.invalidReason), SQLiteValue(checkpoint.metadata), .integer(now),
                ])
                try insertStored.run()
            }
        }
    }

    /// Records which checkpoint the leased attempt starts from, and clears the
    /// operator's choice in `jobs.resume_from`, which this attempt has taken up.
    public func recordResume(_ lease: Lease, checkpointID: Int64?, now: Int64) throws {
        try connection.writeTransaction {
            try checkFence(lease, now: now)
            try connection.execute(
                "UPDATE attempts SET resumed_from = ? WHERE job_id = ? AND attempt = ?",
                [SQLiteValue(checkpointID), .integer(lease.jobID), .integer(Int64(lease.attempt))])
            try connection.execute("UPDATE jobs SET resume_from = NULL WHERE id = ?", [.integer(lease.jobID)])
        }
    }

    /// `berth resume`: queues a failed or finished job again, with a fresh
    /// attempt budget, to continue from `checkpointID`, or from the newest
    /// valid checkpoint when nil.
    ///
    /// Checkpoints captured after the chosen one are marked superseded, so
    /// no later attempt goes back to them; choosing none clears the marks.
    public func resume(id: Int64, from checkpointID: Int64?, now: Int64) throws {
        try connection.writeTransaction {
            let job = try requireJob(id: id)
            if let checkpointID {
                try requireResumable(checkpointID, jobID: id)
            }
            try applyTransition(
                .resume, to: job, now: now,
                extraAssignments: "attempts_used = 0, run_at = ?, resume_from = ?, pending_input = NULL,",
                extraValues: [.integer(now), SQLiteValue(checkpointID)])
            try markSuperseded(jobID: id, after: checkpointID)
        }
    }

    /// `berth answer`: stores the answer to a waiting job's pending input and
    /// queues the job to resume from `checkpointID`, the checkpoint at which it stopped.
    public func answer(id: Int64, answer: String, checkpointID: Int64, now: Int64) throws {
        try connection.writeTransaction {
            let job = try requireJob(id: id)
            try requireResumable(checkpointID, jobID: id)
            try applyTransition(
                .answer, to: job, now: now,
                extraAssignments: "run_at = ?, resume_from = ?, input_answer = ?, pending_input = NULL,",
                extraValues: [.integer(now), .integer(checkpointID), .text(answer)])
            try markSuperseded(jobID: id, after: checkpointID)
        }
    }

    private func requireResumable(_ checkpointID: Int64, jobID: Int64) throws {
        guard let checkpoint = try checkpoint(id: checkpointID), checkpoint.jobID == jobID else {
            throw StoreError.checkpointNotFound(jobID: jobID, name: "#\(checkpointID)")
        }
        guard checkpoint.valid, checkpoint.storedPath != nil else {
            throw CheckpointNotResumable(jobID: jobID, name: checkpoint.name, reason: checkpoint.refusedReason ?? checkpoint.invalidReason.map { "its content \($0)" } ?? "its content is not valid")
        }
    }

    private func markSuperseded(jobID: Int64, after checkpointID: Int64?) throws {
        try connection.execute(
            "UPDATE checkpoints SET superseded = (id > COALESCE(?, id)) WHERE job_id = ?",
            [SQLiteValue(checkpointID), .integer(jobID)])
    }
}

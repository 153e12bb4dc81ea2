import BerthCore

extension JobStore {
    /// Stores `specs` in one transaction and returns one result per spec, in order.
    ///
    /// A spec whose idempotency key already names a job returns that job's id
    /// instead of creating another, also when several processes race on the
    /// same key: the write lock taken by `BEGIN IMMEDIATE` orders them.
    /// The specs must already be validated.
    public func submit(_ specs: [JobSpec], now: Int64) throws -> [SubmitResult] {
        try submit(encoded: specs.map(EncodedSpec.init), now: now)
    }

    /// Stores specs whose canonical JSON the caller already wrote, as
    /// `submit(_:now:)` does. A large batch can write the JSON on several
    /// threads before the transaction starts.
    public func submit(encoded specs: [EncodedSpec], now: Int64) throws -> [SubmitResult] {
        var pending: [EncodedSpec]? = specs
        return try submit(now: now) {
            defer { pending = nil }
            return pending
        }
    }

    /// Stores specs that arrive in parts, all in one transaction, as
    /// `submit(_:now:)` does, so that a caller can store the first part while
    /// it still reads the next. `nextPart` returns nil after the last part.
    /// When it throws, the transaction rolls back and nothing is stored.
    public func submit(now: Int64, parts nextPart: () throws -> [EncodedSpec]?) throws -> [SubmitResult] {
        let insertJob = """
            INSERT INTO jobs (queue, state, priority, run_at, spec, idempotency_key, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (idempotency_key) DO NOTHING
            """
        return try connection.writeTransaction {
            var results: [SubmitResult] = []
            let statement = try connection.statement(insertJob)
            while let part = try nextPart() {
                try insert(part, with: statement, now: now, appendingTo: &results)
            }
            return results
        }
    }

    /// Inserts `specs` inside the open write transaction and appends one result each.
    private func insert(_ specs: [EncodedSpec], with statement: Statement, now: Int64, appendingTo results: inout [SubmitResult]) throws {
        for encoded in specs {
            let spec = encoded.spec
            // Looked up first, because with AUTOINCREMENT even an insert
            // that the conflict clause drops would use up a job id.
            if let key = spec.idempotencyKey,
               let existing = try connection.queryFirst("SELECT id FROM jobs WHERE idempotency_key = ?", [.text(key)], { $0.int64(0) }) {
                results.append(SubmitResult(id: existing, created: false))
                continue
            }
            try statement.bind([
                .text(spec.queue),
                .text((spec.hold ? JobState.held : JobState.queued).rawValue),
                .integer(Int64(spec.priority)),
                .integer(spec.runAt ?? now),
                .text(encoded.json),
                SQLiteValue(spec.idempotencyKey),
                .integer(now),
                .integer(now),
            ])
            try statement.run()
            // The write lock is held since the lookup, so the insert cannot conflict.
            guard connection.changes == 1 else {
                preconditionFailure("an insert of a new job changed no row")
            }
            results.append(SubmitResult(id: connection.lastInsertRowID, created: true))
        }
    }
}

/// A validated spec with the canonical JSON that the store keeps of it.
public struct EncodedSpec: Sendable {
    public let spec: JobSpec
    public let json: String

    public init(_ spec: JobSpec) {
        self.spec = spec
        json = spec.encodedJSON()
    }
}

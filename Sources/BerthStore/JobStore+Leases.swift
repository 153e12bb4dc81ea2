import BerthCore

// The worker side: claiming jobs under a lease, renewing it, and finishing
// attempts. Every write after the claim is fenced by job id, attempt and lease
// owner; a write that changes no row means the lease is lost.

extension JobStore {
    /// Claims the next ready job of `queue` for `worker`, ordered by priority
    /// (highest first), run-at time and id. With `queue` nil, any queue except
    /// those in `excludingQueues` is eligible.
    public func claim(
        queue: String?, excludingQueues: [String] = [], worker: String, leaseDuration: TimeSpan, now: Int64
    ) throws -> ClaimedJob? {
        try claim(
            ClaimRequest(queue: queue, excludingQueues: excludingQueues, worker: worker, leaseDuration: leaseDuration),
            now: now)
    }

    /// Claims the next ready job that `request` selects, in its own write transaction.
    public func claim(_ request: ClaimRequest, now: Int64) throws -> ClaimedJob? {
        try connection.writeTransaction {
            try claimInTransaction(request, now: now)
        }
    }

    /// Ends the attempt of `lease` as `finishAttempt` does, then claims the
    /// next ready job that `next` selects, in one write transaction, so a
    /// worker that finishes one job and takes the next pays for one commit.
    ///
    /// Returns nil when no job is ready, and the attempt is finished all the
    /// same. Throws `StoreError.leaseLost` when `lease` is no longer the
    /// worker's, and then nothing is written and nothing is claimed. Any other
    /// error, such as a claimed job's stored spec that cannot be read, also
    /// rolls back the finish.
    public func finishAttemptAndClaim(
        _ lease: Lease, result: AttemptResult, decision: RetryDecision, next: ClaimRequest, now: Int64
    ) throws -> ClaimedJob? {
        try connection.writeTransaction {
            try finishAttemptInTransaction(lease, result: result, decision: decision, now: now, requireLiveLease: true)
            return try claimInTransaction(next, now: now)
        }
    }

    /// Claims inside the caller's write transaction. One `UPDATE … RETURNING`
    /// moves the job to `running`, sets the lease and increments the attempt,
    /// and the attempt row is inserted next to it.
    private func claimInTransaction(_ request: ClaimRequest, now: Int64) throws -> ClaimedJob? {
        let claim: String
        if request.queue != nil {
            claim = Self.claimOfNamedQueue
        } else if request.excludingQueues.isEmpty {
            claim = Self.claimOfAnyQueue
        } else {
            let placeholders = request.excludingQueues.indices.map { "?\($0 + 4)" }.joined(separator: ", ")
            claim = Self.claimStatement(index: "jobs_ready", queueCondition: "AND queue NOT IN (\(placeholders))")
        }
        let expiresAt = now + request.leaseDuration.milliseconds
        var values: [SQLiteValue] = [.text(request.worker), .integer(expiresAt), .integer(now)]
        if let queue = request.queue {
            values.append(.text(queue))
        } else {
            values += request.excludingQueues.map { .text($0) }
        }

        let claimed = try connection.queryFirst(claim, values) { row in
            (id: row.int64(0), attempt: row.int(1), queue: row.text(2), spec: row.text(3),
             attemptsUsed: row.int(4), resumeFrom: row.optionalInt64(5), inputAnswer: row.optionalText(6))
        }
        guard let claimed else { return nil }

        try connection.execute(
            "INSERT INTO attempts (job_id, attempt, worker_id, claimed_at, resumed_from) VALUES (?, ?, ?, ?, ?)",
            [.integer(claimed.id), .integer(Int64(claimed.attempt)), .text(request.worker), .integer(now), SQLiteValue(claimed.resumeFrom)])

        let spec = try JobSpec.decodeStored(claimed.spec, jobID: claimed.id)
        return ClaimedJob(
            lease: Lease(jobID: claimed.id, attempt: claimed.attempt, owner: request.worker),
            queue: claimed.queue, spec: spec, attemptsUsed: claimed.attemptsUsed,
            leaseExpiresAt: expiresAt, resumeFrom: claimed.resumeFrom, inputAnswer: claimed.inputAnswer)
    }

    /// The claim of the next ready job of one queue, which `jobs_claimable` returns in order.
    static let claimOfNamedQueue = claimStatement(index: "jobs_claimable", queueCondition: "AND queue = ?4")

    /// The claim of the next ready job of any queue, which `jobs_ready` returns in order.
    static let claimOfAnyQueue = claimStatement(index: "jobs_ready", queueCondition: "")

    /// Returns the claim's `UPDATE … RETURNING` that reads ready jobs through
    /// `index`, a partial index in the claim's order, so the first ready row
    /// ends the scan and no sort is needed.
    ///
    /// INDEXED BY names the index because without statistics the planner
    /// chooses `jobs_by_state` and sorts every ready job. It also makes a
    /// query that cannot use the index fail to prepare instead of running slowly.
    /// NOTE: rows whose `run_at` lies in the future are skipped one by one, so
    /// many delayed jobs of a higher priority than the ready ones slow the claim.
    static func claimStatement(index: String, queueCondition: String) -> String {
        """
        UPDATE jobs
        SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_expires_at = ?2,
            cancel_requested = 0, updated_at = ?3
        WHERE id = (
            SELECT id FROM jobs INDEXED BY \(index)
            WHERE state IN ('queued', 'failed') AND run_at <= ?3 \(queueCondition)
            ORDER BY priority DESC, run_at, id
            LIMIT 1)
        RETURNING id, attempt, queue, spec, attempts_used, resume_from, input_answer
        """
    }

    /// Extends the lease to `now + leaseDuration` and returns whether an
    /// operator asked to cancel the job. Throws `StoreError.leaseLost` when the
    /// worker no longer holds it.
    ///
    /// A renewal never moves the expiry earlier, so a clock stepped back on
    /// this host cannot shorten a lease that other workers already rely on.
    public func renewLease(_ lease: Lease, leaseDuration: TimeSpan, now: Int64) throws -> Bool {
        try connection.writeTransaction {
            let cancelRequested = try connection.queryFirst(
                """
                UPDATE jobs SET lease_expires_at = MAX(COALESCE(lease_expires_at, 0), ?), updated_at = ?
                WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'running'
                RETURNING cancel_requested
                """,
                [.integer(now + leaseDuration.milliseconds), .integer(now)] + fence(lease)) { $0.bool(0) }
            guard let cancelRequested else { throw StoreError.leaseLost(lease) }
            return cancelRequested
        }
    }

    /// Records the container created for an attempt and the settings it runs with.
    public func recordContainer(_ lease: Lease, name: String, id: String?, runSettings: String?, now: Int64) throws {
        try connection.writeTransaction {
            try checkFence(lease, now: now)
            try connection.execute(
                "UPDATE attempts SET container_name = ?, container_id = ?, run_settings = ? WHERE job_id = ? AND attempt = ?",
                [.text(name), SQLiteValue(id), SQLiteValue(runSettings), .integer(lease.jobID), .integer(Int64(lease.attempt))])
        }
    }

    /// Records that the attempt's container started.
    public func recordStart(_ lease: Lease, now: Int64) throws {
        try connection.writeTransaction {
            try checkFence(lease, now: now)
            try connection.execute(
                "UPDATE attempts SET started_at = ? WHERE job_id = ? AND attempt = ?",
                [.integer(now), .integer(lease.jobID), .integer(Int64(lease.attempt))])
        }
    }

    /// Records what the daemon is about to do to the container (timeout,
    /// cancel, drain) before it signals it, so the outcome is classified by intent.
    public func recordStopIntent(_ lease: Lease, intent: String, now: Int64) throws {
        try connection.writeTransaction {
            try checkFence(lease, now: now)
            try connection.execute(
                "UPDATE attempts SET stop_intent = ? WHERE job_id = ? AND attempt = ?",
                [.text(intent), .integer(lease.jobID), .integer(Int64(lease.attempt))])
        }
    }

    /// Ends the attempt with `result` and moves the job on as `decision` says.
    public func finishAttempt(_ lease: Lease, result: AttemptResult, decision: RetryDecision, now: Int64) throws {
        try connection.writeTransaction {
            try finishAttemptInTransaction(lease, result: result, decision: decision, now: now, requireLiveLease: true)
        }
    }

    /// Ends the attempt with `result` and moves the job to `waiting`, with
    /// `pendingInput`, a JSON object that describes the input it waits for.
    /// The attempt does not count against the retry policy, and `berth answer`
    /// queues the job again.
    public func pauseForInput(_ lease: Lease, result: AttemptResult, pendingInput: String, now: Int64) throws {
        try connection.writeTransaction {
            if try isCancelRequested(lease) {
                try finishAttemptInTransaction(lease, result: result, decision: .cancel, now: now, requireLiveLease: true)
                return
            }
            try connection.execute(
                """
                UPDATE jobs
                SET state = ?, pending_input = ?, input_answer = NULL, updated_at = ?,
                    lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
                WHERE id = ? AND attempt = ? AND lease_owner = ? AND state IN (\(Self.sourceList(.pauseForInput)))
                """,
                [.text(JobTransition.pauseForInput.target.rawValue), .text(pendingInput), .integer(now)] + fence(lease))
            guard connection.changes == 1 else { throw StoreError.leaseLost(lease) }

            try connection.execute(
                "UPDATE attempts SET finished_at = ?, exit_code = ?, outcome = ?, message = ? WHERE job_id = ? AND attempt = ?",
                [.integer(now), SQLiteValue(result.exitCode.map(Int64.init)), .text(result.outcome.rawValue),
                 SQLiteValue(result.message), .integer(lease.jobID), .integer(Int64(lease.attempt))])
        }
    }

    /// Returns whether an operator asked to cancel the job of `lease`.
    private func isCancelRequested(_ lease: Lease) throws -> Bool {
        try connection.queryFirst(
            "SELECT cancel_requested FROM jobs WHERE id = ? AND attempt = ? AND lease_owner = ?", fence(lease)
        ) { $0.bool(0) } ?? false
    }

    /// Returns the source states of `transition` as an SQL list, such as `'running'`.
    static func sourceList(_ transition: JobTransition) -> String {
        transition.sources.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
    }

    /// Jobs running under `owner`'s lease, with their attempt's container and
    /// recorded stop intent, for a restarted daemon to adopt.
    public func leasedJobs(owner: String) throws -> [(job: ClaimedJob, containerID: String?, stopIntent: String?)] {
        let rows = try connection.query(
            """
            SELECT j.id, j.attempt, j.queue, j.spec, j.attempts_used, j.lease_expires_at, j.resume_from, j.input_answer,
                   a.container_id, a.stop_intent
            FROM jobs j LEFT JOIN attempts a ON a.job_id = j.id AND a.attempt = j.attempt
            WHERE j.state = 'running' AND j.lease_owner = ?
            ORDER BY j.id
            """, [.text(owner)]
        ) { row in
            (id: row.int64(0), attempt: row.int(1), queue: row.text(2), spec: row.text(3), attemptsUsed: row.int(4),
             expiresAt: row.int64(5), resumeFrom: row.optionalInt64(6), inputAnswer: row.optionalText(7),
             containerID: row.optionalText(8), stopIntent: row.optionalText(9))
        }
        return try rows.map { row in
            let job = ClaimedJob(
                lease: Lease(jobID: row.id, attempt: row.attempt, owner: owner), queue: row.queue,
                spec: try JobSpec.decodeStored(row.spec, jobID: row.id), attemptsUsed: row.attemptsUsed,
                leaseExpiresAt: row.expiresAt, resumeFrom: row.resumeFrom, inputAnswer: row.inputAnswer)
            return (job, row.containerID, row.stopIntent)
        }
    }

    /// Jobs running under `owner`'s lease that an operator asked to cancel.
    public func cancelRequests(owner: String) throws -> [Lease] {
        try connection.query(
            "SELECT id, attempt FROM jobs WHERE state = 'running' AND lease_owner = ? AND cancel_requested = 1",
            [.text(owner)]) { Lease(jobID: $0.int64(0), attempt: $0.int(1), owner: owner) }
    }

    /// Whether `attempt` of job `jobID` is the one running now, under any lease.
    public func isRunning(jobID: Int64, attempt: Int) throws -> Bool {
        try connection.queryFirst(
            "SELECT 1 FROM jobs WHERE id = ? AND attempt = ? AND state = 'running'",
            [.integer(jobID), .integer(Int64(attempt))]) { _ in true } ?? false
    }

    /// The running jobs whose lease expired before `?1`, oldest expiry first.
    ///
    /// `jobs_by_state` finds the running jobs, and only those are read and
    /// sorted. Migration 0003 dropped the index on `lease_expires_at`, because
    /// every claim, renewal and finish rewrote it for this occasional query.
    static let expiredLeasesQuery = """
        SELECT id, attempt, lease_owner, queue, spec, attempts_used FROM jobs
        WHERE state = 'running' AND lease_expires_at < ?1 ORDER BY lease_expires_at LIMIT ?2
        """

    /// Jobs whose lease expired before `now`: their worker stopped renewing.
    public func expiredLeases(now: Int64, limit: Int = 100) throws -> [(lease: Lease, queue: String, spec: JobSpec, attemptsUsed: Int)] {
        let rows = try connection.query(Self.expiredLeasesQuery, [.integer(now), .integer(Int64(limit))]) { row in
            (Lease(jobID: row.int64(0), attempt: row.int(1), owner: row.text(2)), row.text(3), row.text(4), row.int(5))
        }
        return try rows.map { ($0.0, $0.1, try JobSpec.decodeStored($0.2, jobID: $0.0.jobID), $0.3) }
    }

    /// Finishes an attempt whose lease expired, on behalf of its vanished worker.
    /// Throws `StoreError.leaseLost` when the worker renewed the lease meanwhile.
    public func rescueExpiredLease(_ lease: Lease, result: AttemptResult, decision: RetryDecision, now: Int64) throws {
        try connection.writeTransaction {
            try finishAttemptInTransaction(lease, result: result, decision: decision, now: now, requireLiveLease: false)
        }
    }

    private func finishAttemptInTransaction(
        _ lease: Lease, result: AttemptResult, decision: RetryDecision, now: Int64, requireLiveLease: Bool
    ) throws {
        // An operator's cancel that arrived while the attempt ended on its own
        // must not be lost to a retry. A job that succeeded or is dead keeps its state.
        var decision = decision
        if decision.transition.target == .queued || decision.transition.target == .failed, try isCancelRequested(lease) {
            decision = .cancel
        }

        let target = decision.transition.target
        var runAt: Int64? = nil
        if case .retry(let delay) = decision {
            runAt = now + delay.milliseconds
        } else if decision == .requeue {
            runAt = now
        }
        var lastError: String? = nil
        if case .bury(let reason) = decision {
            lastError = [result.message, reason].compactMap { $0 }.joined(separator: "; ")
        } else if result.outcome != .succeeded {
            lastError = result.message
        }

        let leaseCondition = requireLiveLease ? "" : "AND lease_expires_at < ?"
        var values: [SQLiteValue] = [
            .text(target.rawValue), SQLiteValue(runAt), .integer(result.outcome.countsAsAttempt ? 1 : 0),
            SQLiteValue(target.isFinished ? now : nil), .integer(target == .succeeded ? 1 : 0), SQLiteValue(lastError), .integer(now),
        ] + fence(lease)
        if !requireLiveLease { values.append(.integer(now)) }

        try connection.execute(
            """
            UPDATE jobs
            SET state = ?, run_at = COALESCE(?, run_at), attempts_used = attempts_used + ?,
                finished_at = ?, last_error = CASE WHEN ? THEN NULL ELSE COALESCE(?, last_error) END, updated_at = ?,
                lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
            WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'running' \(leaseCondition)
            """, values)
        guard connection.changes == 1 else { throw StoreError.leaseLost(lease) }

        try connection.execute(
            """
            UPDATE attempts SET finished_at = ?, exit_code = ?, outcome = ?, message = ?
            WHERE job_id = ? AND attempt = ?
            """,
            [.integer(now), SQLiteValue(result.exitCode.map(Int64.init)), .text(result.outcome.rawValue),
             SQLiteValue(result.message), .integer(lease.jobID), .integer(Int64(lease.attempt))])
    }

    /// Fails with `StoreError.leaseLost` unless `lease` is still held.
    /// Must run inside a write transaction.
    func checkFence(_ lease: Lease, now: Int64) throws {
        try connection.execute(
            "UPDATE jobs SET updated_at = ? WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'running'",
            [.integer(now)] + fence(lease))
        guard connection.changes == 1 else { throw StoreError.leaseLost(lease) }
    }

    func fence(_ lease: Lease) -> [SQLiteValue] {
        [.integer(lease.jobID), .integer(Int64(lease.attempt)), .text(lease.owner)]
    }
}

extension JobStore {
    /// Registers a worker, or refreshes its row when it restarts under the same id.
    public func registerWorker(_ worker: WorkerRecord) throws {
        try connection.writeTransaction {
            try connection.execute(
                """
                INSERT INTO workers (id, host, pid, version, started_at, heartbeat_at, stopped_at, wake_socket)
                VALUES (?, ?, ?, ?, ?, ?, NULL, ?)
                ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, version = excluded.version,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL,
                    wake_socket = excluded.wake_socket
                """,
                [.text(worker.id), .text(worker.host), .integer(Int64(worker.pid)), .text(worker.version),
                 .integer(worker.startedAt), .integer(worker.heartbeatAt), SQLiteValue(worker.wakeSocket)])
        }
    }

    public func recordWorkerHeartbeat(id: String, now: Int64) throws {
        try connection.writeTransaction {
            try connection.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", [.integer(now), .text(id)])
        }
    }

    public func recordWorkerStopped(id: String, now: Int64) throws {
        try connection.writeTransaction {
            try connection.execute("UPDATE workers SET stopped_at = ?, heartbeat_at = ? WHERE id = ?", [.integer(now), .integer(now), .text(id)])
        }
    }

    public func workers() throws -> [WorkerRecord] {
        try connection.query(
            "SELECT id, host, pid, version, started_at, heartbeat_at, stopped_at, wake_socket FROM workers ORDER BY heartbeat_at DESC"
        ) { row in
            WorkerRecord(id: row.text(0), host: row.text(1), pid: Int32(truncatingIfNeeded: row.int64(2)), version: row.text(3),
                         startedAt: row.int64(4), heartbeatAt: row.int64(5), stoppedAt: row.optionalInt64(6),
                         wakeSocket: row.optionalText(7))
        }
    }
}

extension JobSpec {
    /// Decodes a spec read back from the database.
    static func decodeStored(_ json: String, jobID: Int64) throws -> JobSpec {
        do {
            return try JobSpec.decodeStored(json: json)
        } catch {
            throw SQLiteError(code: 11, message: "job \(jobID) has a stored spec that cannot be read: \(error)")
        }
    }
}

import Foundation

import BerthCore
import BerthEngine
import BerthStore
import Foundation

// Heartbeats: lease renewal, cancellations and the rescue of jobs whose worker died.

extension Daemon {
    func heartbeat() async {
        if let change = database.fileChange() {
            stopForChangedDatabase(change)
            return
        }
        let leases = runners.values.map(\.lease)
        let leaseDuration = configuration.leaseDuration
        let results: [(Lease, Result<Bool, any Error>)]
        do {
            results = try await database.run { [workerID] store in
                let now = Clock.nowMilliseconds()
                try store.recordWorkerHeartbeat(id: workerID, now: now)
                return leases.map { lease in
                    (lease, Result { try store.renewLease(lease, leaseDuration: leaseDuration, now: now) })
                }
            }
        } catch {
            reportError("heartbeat", error)
            return
        }
        metrics.recordHeartbeat(now: Clock.nowMilliseconds())

        for (lease, result) in results {
            guard let runner = runners[lease.jobID], runner.lease == lease else { continue }
            switch result {
            case .success(true):
                logger.info("cancel requested; stopping the job", [(.jobID, "\(lease.jobID)"), (.attempt, "\(lease.attempt)")])
                runner.requestStop(.cancel)
            case .success(false):
                break
            case .failure(StoreError.leaseLost) where runner.hasExited:
                // The attempt finished while the renewal was on its way.
                continue
            case .failure(StoreError.leaseLost):
                logger.warning("lost the lease; stopping the container", [
                    (.jobID, "\(lease.jobID)"), (.attempt, "\(lease.attempt)"), (.queue, runner.job.queue), (.workerID, workerID),
                ])
                runner.requestStop(.leaseLost)
            case .failure(let error):
                reportError("lease renewal", error)
            }
        }

        await rescueExpiredLeases()
        if ContinuousClock.now >= nextOrphanSweep {
            await sweepOrphanedContainers()
            nextOrphanSweep = ContinuousClock.now + .seconds(60)
        }
    }

    /// Stops running jobs that an operator cancelled. `berth cancel` wakes
    /// daemons on its host, so they act at once; the heartbeat catches the rest.
    func stopCancelledJobs() async {
        guard !runners.isEmpty else { return }
        let requests: [Lease]
        do {
            requests = try await database.run { [workerID] store in try store.cancelRequests(owner: workerID) }
        } catch {
            reportError("cancel check", error)
            return
        }
        for lease in requests {
            guard let runner = runners[lease.jobID], runner.lease == lease else { continue }
            runner.requestStop(.cancel)
        }
    }

    /// Finishes attempts whose worker stopped renewing its lease, as lost
    /// attempts under the job's retry policy.
    func rescueExpiredLeases() async {
        let expired: [(lease: Lease, queue: String, spec: JobSpec, attemptsUsed: Int)]
        do {
            expired = try await database.run { store in try store.expiredLeases(now: Clock.nowMilliseconds()) }
        } catch {
            reportError("rescue", error)
            return
        }
        for job in expired where runners[job.lease.jobID] == nil {
            let settings = configuration.settings(forQueue: job.queue)
            let policy = job.spec.retry.applied(to: settings.retry.policy)
            let result = AttemptResult(outcome: .lost, message: "worker \(job.lease.owner) stopped renewing its lease")
            let decision = policy.decide(outcome: .lost, exitCode: nil, attemptsUsed: job.attemptsUsed + 1, unitRandom: Double.random(in: 0..<1))
            do {
                try await database.run { store in
                    try store.rescueExpiredLease(job.lease, result: result, decision: decision, now: Clock.nowMilliseconds())
                }
                metrics.recordFinishedAttempt(queue: job.queue, outcome: .lost, decision: decision)
                logger.warning("rescued job from a worker whose lease expired", [
                    (.jobID, "\(job.lease.jobID)"), (.attempt, "\(job.lease.attempt)"), (.workerID, job.lease.owner),
                ])
            } catch StoreError.leaseLost {
                continue
            } catch {
                reportError("rescue", error)
            }
        }
    }
}

import BerthCore
import BerthEngine
import BerthStore
import Foundation

extension Daemon {
    /// Takes up the jobs this worker held before it restarted: containers that
    /// still run are adopted and followed again, containers that exited have
    /// their results collected, and vanished ones are recorded as lost.
    func reconcile() async {
        let leased: [(job: ClaimedJob, containerID: String?, stopIntent: String?)]
        do {
            leased = try await database.run { [workerID] store in try store.leasedJobs(owner: workerID) }
        } catch {
            logger.error("reconciliation could not read this worker's jobs", [(.error, "\(error)")])
            return
        }

        for entry in leased {
            await reconcile(entry.job, containerID: entry.containerID, stopIntent: entry.stopIntent.flatMap(StopIntent.init(rawValue:)))
        }
        await sweepOrphanedContainers(removeOwnAtOnce: true)
    }

    private func reconcile(_ job: ClaimedJob, containerID: String?, stopIntent: StopIntent?) async {
        let fields: [(LogField, String)] = [(.jobID, "\(job.lease.jobID)"), (.attempt, "\(job.lease.attempt)")]

        // The lease may have expired while the daemon was down and the job
        // been rescued by another worker; then the container is an orphan.
        let cancelRequested: Bool
        do {
            cancelRequested = try await database.run { [leaseDuration = configuration.leaseDuration] store in
                try store.renewLease(job.lease, leaseDuration: leaseDuration, now: Clock.nowMilliseconds())
            }
        } catch {
            logger.info("a job of this worker was taken over while it was down", fields + [(.error, "\(error)")])
            return
        }
        // An operator's cancel that arrived while the daemon was down decides
        // the outcome. Finishing the attempt as lost or interrupted instead
        // would clear the request and queue the job again.
        let stopIntent = stopIntent ?? (cancelRequested ? .cancel : nil)

        let runner = AttemptRunner(job: job, context: makeAttemptContext(), lifecycle: AttemptLifecycle(adoptingWithIntent: stopIntent))
        let reference = containerID ?? ContainerLabels.containerName(databaseID: databaseID, jobID: job.lease.jobID, attempt: job.lease.attempt)
        let inspection: ContainerInspection
        do {
            inspection = try await engine.inspect(reference)
        } catch ContainerEngineError.noSuchContainer {
            logger.warning("the container of a job vanished while the daemon was down", fields)
            let result = stopIntent == .cancel
                ? AttemptResult(outcome: .cancelled, message: "cancelled; the container disappeared while the daemon was down")
                : AttemptResult(outcome: .lost, message: "the container disappeared while the daemon was down")
            adoptFinished(runner) { await runner.finishWithoutRunning(result, containerID: nil) }
            return
        } catch {
            // The engine is down; the lease keeps the job ours until it answers.
            logger.error("cannot inspect the container of an adopted job", fields + [(.error, "\(error)")])
            adoptFinished(runner) { await runner.run(.adopt(containerID: reference, startedAt: nil, priorIntent: stopIntent)) }
            return
        }

        if inspection.state.status == "created" {
            // Created but never started: nothing ran, so the attempt does not count.
            let result = stopIntent == .cancel
                ? AttemptResult(outcome: .cancelled, message: "cancelled before the container started")
                : AttemptResult(outcome: .interrupted, message: "the daemon stopped before the container started")
            logger.info("a container was created but never started", fields + [(.reason, result.outcome.rawValue)])
            adoptFinished(runner) { await runner.finishWithoutRunning(result, containerID: inspection.id) }
            return
        }

        let startedAt = inspection.state.startedAt.map { Int64($0.timeIntervalSince1970 * 1000) }
        adoptFinished(runner) {
            await runner.run(.adopt(containerID: inspection.id, startedAt: startedAt, priorIntent: stopIntent))
        }
    }

    /// Removes containers labelled for this host whose attempt is no longer
    /// running. Containers of this worker go at once during reconciliation;
    /// others only when still orphaned a grace period later, so that a live
    /// daemon between creating a container and recording it is never raced.
    func sweepOrphanedContainers(removeOwnAtOnce: Bool = false) async {
        let containers: [ContainerSummary]
        do {
            containers = try await engine.list(labels: [ContainerLabels.host: host, ContainerLabels.database: databaseID])
        } catch {
            return
        }
        let grace = Duration.milliseconds(configuration.leaseDuration.milliseconds)
        var seen = Set<String>()

        for container in containers {
            guard let inspection = try? await engine.inspect(container.id),
                  let jobID = inspection.labels[ContainerLabels.job].flatMap(Int64.init),
                  let attempt = inspection.labels[ContainerLabels.attempt].flatMap(Int.init)
            else { continue }
            if let runner = runnerFor(jobID: jobID), runner.lease.attempt == attempt { continue }
            let running = (try? await database.run { store in try store.isRunning(jobID: jobID, attempt: attempt) }) ?? true
            if running { continue }

            seen.insert(container.id)
            let own = inspection.labels[ContainerLabels.worker] == workerID
            let firstSeen = orphanFirstSeen(container.id)
            guard (own && removeOwnAtOnce) || ContinuousClock.now - firstSeen >= grace else { continue }

            do {
                try await engine.remove(container.id)
                logger.info("removed an orphaned container", [(.containerID, container.id), (.jobID, "\(jobID)"), (.attempt, "\(attempt)")])
            } catch {
                logger.warning("could not remove an orphaned container", [(.containerID, container.id), (.error, "\(error)")])
            }
        }
        forgetOrphans(except: seen)
    }
}

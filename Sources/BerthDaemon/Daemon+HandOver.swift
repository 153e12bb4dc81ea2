import BerthCore
import BerthStore
import Foundation

// Claims made by finishing runners: the next job is claimed in the write
// transaction that records an attempt's result, and starts in the slot that
// the runner frees when it ends.

/// A claim that a finishing runner makes for the daemon.
struct HandOver {
    /// The queue claimed from, or nil for any queue that is not listed.
    let queue: String?
    /// The claimed job, once the runner has recorded its result and claimed one.
    var job: ClaimedJob?
}

extension Daemon {
    /// Returns the claim request for the slot that the runner of `lease` frees,
    /// or nil when the daemon takes no new work or the claim loop is claiming.
    ///
    /// The runner keeps its slot until it ends, and the queue of the request
    /// counts against that queue's limit until then, so neither the claim loop
    /// nor another runner's hand-over can claim past a limit meanwhile.
    /// Refusing while `claimWhileCapacity` has a claim in flight keeps its
    /// count of free capacity true. The runner's end wakes the claim loop,
    /// which claims for any slot that a hand-over left empty.
    func requestHandOver(for lease: Lease) -> ClaimRequest? {
        guard shutdown.isAcceptingWork, engineHealthy, !isClaiming, handOvers[lease] == nil,
              let runner = runners[lease.jobID], runner.lease == lease,
              runners.count - 1 < configuration.concurrency
        else { return nil }

        let candidates = claimCandidates(freeing: runner)
        guard !candidates.isEmpty else { return nil }
        queueRotation = (queueRotation + 1) % candidates.count
        let queue = candidates[queueRotation]
        handOvers[lease] = HandOver(queue: queue)
        return claimRequest(for: queue)
    }

    /// Keeps `job`, claimed together with the result of `lease`'s attempt,
    /// until that attempt's runner ends and frees its slot.
    func acceptHandOver(_ job: ClaimedJob, from lease: Lease) {
        handOvers[lease, default: HandOver(queue: job.queue)].job = job
    }

    /// Starts a job that a finishing runner claimed, as `claimWhileCapacity`
    /// starts the jobs it claims. After a shutdown began the job is queued
    /// again without a container, as a drain does with jobs not yet started.
    func startHandedOver(_ job: ClaimedJob) {
        let runner = AttemptRunner(job: job, context: makeAttemptContext())
        if shutdown.isAcceptingWork {
            start(runner, .fresh)
            return
        }
        // NOTE: no test reaches this branch, because the signal must arrive in
        // the few milliseconds between the claim and the end of the runner.
        metrics.recordClaim(queue: job.queue)
        logger.info("claimed job while shutting down; queueing it again", [
            (.jobID, "\(job.lease.jobID)"), (.attempt, "\(job.lease.attempt)"), (.queue, job.queue),
        ])
        let result = AttemptResult(outcome: .interrupted, message: "the daemon began to shut down before the job started")
        adoptFinished(runner) { await runner.finishWithoutRunning(result, containerID: nil) }
    }

    /// Returns the claim of the next job of `queue`, or of any queue that is
    /// not listed in the configuration when `queue` is nil.
    func claimRequest(for queue: String?) -> ClaimRequest {
        ClaimRequest(
            queue: queue, excludingQueues: queue == nil ? Array(configuration.queues.keys) : [], worker: workerID,
            leaseDuration: configuration.leaseDuration)
    }
}

import BerthCore
import BerthEngine
import BerthStore
import Foundation

// Claiming jobs up to the global and per-queue limits, and tracking the attempts that run.

extension Daemon {
    /// Claims jobs while the global and per-queue limits allow.
    func claimWhileCapacity() async {
        var candidates = claimCandidates()
        while runners.count < configuration.concurrency, !candidates.isEmpty {
            queueRotation = (queueRotation + 1) % candidates.count
            let candidate = candidates[queueRotation]
            let claimed: ClaimedJob?
            do {
                claimed = try await database.run { [workerID, configuration, listed = Array(configuration.queues.keys)] store in
                    try store.claim(
                        queue: candidate, excludingQueues: candidate == nil ? listed : [], worker: workerID,
                        leaseDuration: configuration.leaseDuration, now: Clock.nowMilliseconds())
                }
            } catch {
                reportError("claim", error)
                return
            }
            guard let claimed else {
                candidates.remove(at: queueRotation)
                continue
            }
            errorLimiter.reset("claim")
            start(AttemptRunner(job: claimed, context: makeAttemptContext()), .fresh)
            candidates = claimCandidates()
        }
    }

    /// Queues with free capacity: listed queue names, and nil for every queue
    /// that is not listed, which shares `defaultQueue`'s limit.
    func claimCandidates() -> [String?] {
        var running: [String: Int] = [:]
        var unlistedRunning = 0
        for runner in runners.values {
            if configuration.queues[runner.job.queue] != nil {
                running[runner.job.queue, default: 0] += 1
            } else {
                unlistedRunning += 1
            }
        }
        var candidates: [String?] = configuration.queues.keys.sorted()
            .filter { running[$0, default: 0] < configuration.queues[$0]!.concurrency }
        if unlistedRunning < configuration.defaultQueue.concurrency {
            candidates.append(nil)
        }
        return candidates
    }

    func start(_ runner: AttemptRunner, _ start: AttemptRunner.Start) {
        metrics.recordClaim(queue: runner.job.queue)
        logger.info("claimed job", [(.jobID, "\(runner.lease.jobID)"), (.attempt, "\(runner.lease.attempt)"), (.queue, runner.job.queue)])
        adoptFinished(runner) { await runner.run(start) }
    }

    /// Tracks `runner` until `body` returns, so it counts against the limits.
    func adoptFinished(_ runner: AttemptRunner, _ body: @escaping @Sendable () async -> AttemptRunner.End) {
        runners[runner.lease.jobID] = runner
        statusChanged()
        Task {
            let end = await body()
            self.attemptEnded(runner, end: end)
            if case .finished = end {
                await runner.removeFinishedContainer()
                self.containerRemoved()
            }
        }
    }

    func runnerFor(jobID: Int64) -> AttemptRunner? {
        runners[jobID]
    }

    func orphanFirstSeen(_ containerID: String) -> ContinuousClock.Instant {
        if let seen = orphansFirstSeen[containerID] { return seen }
        let now = ContinuousClock.now
        orphansFirstSeen[containerID] = now
        return now
    }

    func forgetOrphans(except seen: Set<String>) {
        orphansFirstSeen = orphansFirstSeen.filter { seen.contains($0.key) }
    }

    func attemptEnded(_ runner: AttemptRunner, end: AttemptRunner.End) {
        if runners[runner.lease.jobID] === runner {
            runners[runner.lease.jobID] = nil
        }
        if case .finished = end {
            pendingContainerRemovals += 1
        }
        statusChanged()
        wake.signal()
    }

    /// Called when the container of a finished attempt is removed, which
    /// happens after its slot went to the next job.
    func containerRemoved() {
        pendingContainerRemovals -= 1
        if pendingContainerRemovals == 0 {
            wake.signal()
        }
    }
}

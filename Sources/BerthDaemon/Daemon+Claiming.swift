import BerthCore
import BerthEngine
import BerthStore
import Foundation

// Claiming jobs up to the global and per-queue limits, and tracking the attempts that run.

extension Daemon {
    /// Claims jobs while the global and per-queue limits allow.
    func claimWhileCapacity() async {
        isClaiming = true
        defer { isClaiming = false }
        var candidates = claimCandidates()
        while runners.count < configuration.concurrency, !candidates.isEmpty {
            queueRotation = (queueRotation + 1) % candidates.count
            let request = claimRequest(for: candidates[queueRotation])
            let claimed: ClaimedJob?
            do {
                claimed = try await database.run { store in
                    try store.claim(request, now: Clock.nowMilliseconds())
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

    /// Returns the queues with free capacity: listed queue names, and nil for
    /// every queue that is not listed, which shares `defaultQueue`'s limit.
    ///
    /// A finishing runner's pending hand-over counts against the queue it claims
    /// from, and the runner itself against its own queue until it ends. With
    /// `freeing`, that runner's job does not count, because the caller plans
    /// the claim that takes its slot.
    func claimCandidates(freeing freed: AttemptRunner? = nil) -> [String?] {
        var running: [String: Int] = [:]
        var unlistedRunning = 0
        let runningQueues = runners.values.filter { $0 !== freed }.map { Optional($0.job.queue) }
        for queue in runningQueues + handOvers.values.map(\.queue) {
            if let queue, configuration.queues[queue] != nil {
                running[queue, default: 0] += 1
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
        logger.info("claimed job", [
            (.jobID, "\(runner.lease.jobID)"), (.attempt, "\(runner.lease.attempt)"), (.queue, runner.job.queue), (.workerID, workerID),
        ])
        // With queues listed, a job in any other queue gets defaultQueue's
        // limits and network. That is intended, but a mistyped queue name
        // would otherwise go unnoticed, so each such queue is named once.
        let queue = runner.job.queue
        if !configuration.queues.isEmpty, configuration.queues[queue] == nil, unlistedQueuesSeen.insert(queue).inserted {
            logger.info("the job's queue is not listed in the configuration, so its jobs run with defaultQueue's settings", [
                (.jobID, "\(runner.lease.jobID)"), (.queue, queue),
                (.reason, "listed queues: " + configuration.queues.keys.sorted().joined(separator: ", ")),
            ])
        }
        adoptFinished(runner) { await runner.run(start) }
    }

    /// Tracks `runner` until `body` returns, so it counts against the limits.
    func adoptFinished(_ runner: AttemptRunner, _ body: @escaping @Sendable () async -> AttemptRunner.End) {
        runners[runner.lease.jobID] = runner
        statusChanged()
        Task {
            let end = await body()
            self.attemptEnded(runner, end: end)
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
            queueContainerRemoval(runner)
        }
        // The job claimed together with this attempt's result takes the slot
        // that the runner frees. It may be the same job, retried at once.
        if let handedOver = handOvers.removeValue(forKey: runner.lease)?.job {
            startHandedOver(handedOver)
        }
        statusChanged()
        wake.signal()
    }
}

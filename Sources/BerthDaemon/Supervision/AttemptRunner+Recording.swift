import BerthCore
import BerthEngine
import BerthStore
import Foundation

// Recording how an attempt ended and moving the job on by its retry policy.

extension AttemptRunner {
    /// How long a result that the database refuses is retried before the
    /// attempt is left to a rescue, which records it as lost.
    static let resultRetryWindow = Duration.seconds(300)

    func record(exit: ContainerExit, pump: OutputPump, observer: any AttemptObserver, containerID id: String) async -> End {
        perform(lifecycle.withLock { $0.handle(.exited) })

        // The last batch, with every checkpoint file not captured yet, reaches
        // the database before the result does.
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                pump.writePending(final: true)
                continuation.resume()
            }
        }
        if case StoreError.leaseLost? = pump.writeError {
            logger.warning("lost the lease while storing output; another worker has the job", [(.containerID, id)])
            try? await removeContainer(id)
            return .leaseLost
        }
        if let error = pump.writeError {
            // Lines are missing from the database, so the attempt must not count
            // as a success. A retry runs the job again from its last checkpoint.
            logger.error("failed to store the job's output, so the attempt fails", [
                (.jobID, "\(lease.jobID)"), (.attempt, "\(lease.attempt)"), (.containerID, id), (.error, "\(error)"),
            ])
            return await finish(
                AttemptResult(outcome: .failed, exitCode: exit.exitCode, message: "failed to store the job's output: \(error)"),
                containerID: id)
        }

        var exit = exit
        if FileManager.default.fileExists(atPath: oomMarkerPath) {
            exit.oomKilled = true
        }
        // A container started with `run --detach` has conmon's OOM marker in
        // the attempt directory, so the engine is asked only when the exit
        // code is missing. For other containers podman 4.3 reports OOMKilled.
        let hasAttemptDirectory = FileManager.default.fileExists(atPath: logFilePath)
        if !exit.vanished, !hasAttemptDirectory || exit.exitCode == nil {
            if let inspection = try? await context.engine.inspect(id) {
                exit.oomKilled = exit.oomKilled || inspection.state.isOOMKilled
                if exit.exitCode == nil { exit.exitCode = inspection.state.exitCode }
            }
        }

        exit.commandNotExecuted = ContainerExit.initFailure(
            exitCode: exit.exitCode, standardOutputLines: pump.linesSeen[.stdout] ?? 0, standardErrorLines: pump.firstErrorLines)

        let intent = lifecycle.withLock { $0.intent }
        let classified = AttemptOutcomeClassifier.classify(intent: intent, exit: exit)
        switch observer.conclude(classified, intent: intent, exit: exit) {
        case .finished(let result, let retryable):
            return await finish(result, containerID: id, retryable: retryable)
        case .waitingForInput(let result, let pendingInput):
            return await finish(result, containerID: id, pendingInput: pendingInput)
        }
    }

    /// Records `result` for an attempt whose container is gone or never ran,
    /// removing `containerID` when there is one.
    func finishWithoutRunning(_ result: AttemptResult, containerID: String?) async -> End {
        await finish(result, containerID: containerID)
    }

    /// Records `result` and moves the job on by its retry policy. The container
    /// stays for the daemon to remove (`takeFinishedContainer`).
    ///
    /// `retryable` false buries a failure that the policy would retry, for an
    /// adapter that knows the failure repeats. With `pendingInput` the job
    /// waits for an operator's answer instead.
    func finish(
        _ result: AttemptResult, containerID id: String?, retryable: Bool = true, pendingInput: String? = nil
    ) async -> End {
        let policy = job.spec.retry.applied(to: settings.retry.policy)
        let attemptsUsed = job.attemptsUsed + (result.outcome.countsAsAttempt ? 1 : 0)
        var decision = policy.decide(
            outcome: result.outcome, exitCode: result.exitCode, attemptsUsed: attemptsUsed,
            unitRandom: Double.random(in: 0..<1))
        if !retryable, case .retry = decision {
            decision = .bury(reason: "the adapter reports that this failure does not go away on a retry")
        }

        // When the daemon has a slot for it, its next job is claimed in the
        // transaction that records this result. A job that waits for input
        // leaves the claim to the daemon's claim loop.
        var nextClaim = pendingInput == nil ? await context.claimHandOver.request(lease) : nil

        // A full disk or a long lock by another process passes, so the write is
        // retried, with the slot kept busy. An expired lease does not stop it:
        // the owner may still write until another worker rescues the job, and
        // then the write fails as `leaseLost`.
        var giveUpAt: ContinuousClock.Instant?
        var delay = Duration.milliseconds(500)
        while true {
            do {
                let claimed = try await context.database.run { [lease, decision, nextClaim] store -> ClaimedJob? in
                    let now = Clock.nowMilliseconds()
                    if let pendingInput {
                        try store.pauseForInput(lease, result: result, pendingInput: pendingInput, now: now)
                        return nil
                    }
                    if let nextClaim {
                        return try store.finishAttemptAndClaim(lease, result: result, decision: decision, next: nextClaim, now: now)
                    }
                    try store.finishAttempt(lease, result: result, decision: decision, now: now)
                    return nil
                }
                if let claimed {
                    await context.claimHandOver.accept(lease, claimed)
                }
                break
            } catch StoreError.leaseLost {
                logger.warning("could not record the result; another worker has the job")
                if let id { try? await context.engine.remove(id) }
                removeAttemptDirectory()
                return .leaseLost
            } catch {
                logger.error("could not record the result", [(.error, "\(error)")])
                // Retries record the result without the claim, so that a claim
                // that fails, such as on a job whose stored spec cannot be read,
                // cannot keep the result from being stored.
                nextClaim = nil
                let deadline = giveUpAt ?? ContinuousClock.now + Self.resultRetryWindow
                giveUpAt = deadline
                // A cancelled task would not wait between tries.
                if ContinuousClock.now + delay > deadline || Task.isCancelled {
                    // The result is gone once this returns, so the log keeps it for the operator.
                    var fields: [(LogField, String)] = [(.reason, result.message ?? result.outcome.rawValue), (.error, "\(error)")]
                    if let code = result.exitCode { fields.append((.exitCode, "\(code)")) }
                    logger.error("gave up recording the result; a rescue records the attempt as lost once its lease expires", fields)
                    if let id { try? await context.engine.remove(id) }
                    removeAttemptDirectory()
                    return .unrecorded
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(4))
            }
        }
        if pendingInput != nil {
            logger.info("job is waiting for an answer; berth answer queues it again", [(.reason, result.message ?? "")])
        } else {
            logFinish(result, decision: decision)
        }
        context.metrics.recordFinishedAttempt(queue: job.queue, outcome: result.outcome, decision: decision)

        if let id {
            _ = lifecycle.withLock { lifecycle -> [AttemptLifecycle.Action] in
                lifecycle.phase == .exited ? lifecycle.handle(.recorded) : []
            }
            finishedContainer.withLock { $0 = id }
        }
        return .finished(result.outcome)
    }

    /// Returns the container of a recorded attempt, once, for the daemon to remove.
    ///
    /// The daemon removes it after the attempt's slot went to the next job,
    /// then calls `removeAttemptDirectory`.
    func takeFinishedContainer() -> String? {
        finishedContainer.withLock { $0.take() }
    }

    func logFinish(_ result: AttemptResult, decision: RetryDecision) {
        var fields: [(LogField, String)] = [(.reason, result.message ?? result.outcome.rawValue)]
        if let code = result.exitCode { fields.append((.exitCode, "\(code)")) }
        switch decision {
        case .succeed:
            logger.info("job succeeded")
        case .retry(let delay):
            logger.info("attempt \(result.outcome.rawValue); retry scheduled in \(delay)", fields)
        case .bury(let reason):
            logger.warning("job is dead: \(reason)", fields)
        case .cancel:
            logger.info("job cancelled", fields)
        case .requeue:
            logger.info("attempt interrupted by the daemon; job queued again without using an attempt", fields)
        }
    }
}

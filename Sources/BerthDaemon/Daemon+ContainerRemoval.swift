import BerthEngine
import Foundation

// Removing the containers of finished attempts after their slots went to the
// next jobs, several with one engine command.

extension Daemon {
    /// How long the remover waits for more finished attempts before one engine
    /// command removes all their containers. Each podman command costs tens of
    /// milliseconds of CPU, which a busy host would otherwise take from the
    /// containers that start meanwhile.
    static let removalGathering = Duration.milliseconds(250)

    /// Queues the container and attempt directory of `runner`'s finished attempt for removal.
    func queueContainerRemoval(_ runner: AttemptRunner) {
        finishedRunners.append(runner)
        guard !isRemovingContainers else { return }
        isRemovingContainers = true
        Task { await self.removeFinishedContainers() }
    }

    /// Removes queued containers until none is left. A daemon that is
    /// shutting down removes them at once, because it exits only after the removals.
    /// A crash before the removal leaves exited containers of finished jobs,
    /// which the orphan sweep removes.
    private func removeFinishedContainers() async {
        while !finishedRunners.isEmpty {
            if shutdown.isAcceptingWork {
                try? await Task.sleep(for: Self.removalGathering)
            }
            let batch = finishedRunners
            finishedRunners = []

            let containers = batch.compactMap { $0.takeFinishedContainer() }
            if !containers.isEmpty {
                do {
                    try await engine.remove(containers)
                } catch {
                    logger.warning("could not remove the containers of finished attempts; the orphan sweep removes them later", [
                        (.containerID, containers.joined(separator: " ")), (.error, "\(error)"),
                    ])
                }
            }
            for runner in batch {
                runner.removeAttemptDirectory()
            }
        }
        isRemovingContainers = false
        wake.signal()
    }
}

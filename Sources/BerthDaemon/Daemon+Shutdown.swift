import BerthCore
import BerthEngine
import BerthStore
import Foundation

// SIGTERM and SIGINT: draining or detaching, then the deadline.

extension Daemon {
    /// Called for SIGTERM and SIGINT.
    public func signalReceived() {
        let action = shutdown.signalReceived()
        switch action {
        case .drain:
            logger.info("shutting down: draining running jobs", [(.workerID, workerID)])
            notifier.stopping(status: statusLine())
            for runner in runners.values {
                runner.requestStop(.drain)
            }
            scheduleDeadline()
        case .detach:
            logger.info("shutting down: detaching from running containers", [(.workerID, workerID)])
            notifier.stopping(status: statusLine())
            for runner in runners.values {
                runner.requestDetach()
            }
            scheduleDeadline()
        case .exitNow:
            logger.warning("second signal: exiting now; running containers are adopted or rescued later")
        case .none:
            break
        }
        wake.signal()
    }

    func scheduleDeadline() {
        let deadline = Duration.milliseconds(configuration.shutdown.deadline.milliseconds)
        Task {
            try? await Task.sleep(for: deadline)
            self.deadlinePassed()
        }
    }

    func deadlinePassed() {
        if shutdown.deadlinePassed() == .exitNow {
            logger.warning("shutdown deadline passed; exiting with \(runners.count) attempts unfinished")
            wake.signal()
        }
    }
}

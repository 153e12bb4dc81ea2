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

// The database file deleted or replaced while the daemon runs.

extension Daemon {
    /// Stops claiming, stops the running containers and makes `run()` return
    /// exit status 1, because the database file at the configured path is no
    /// longer the file this daemon has open.
    ///
    /// The containers are stopped whatever `shutdown.mode` is set to. Their leases
    /// exist only in the lost file, so no daemon would ever adopt a detached
    /// container, and the orphan sweep of a daemon on a new database looks
    /// only for containers labelled with that database's id.
    func stopForChangedDatabase(_ change: DatabaseFileChange) {
        guard exitStatus == 0 else { return }
        exitStatus = 1
        logger.error("the database file changed under the daemon; stopping running jobs and exiting with status 1", [
            (.databasePath, configuration.databaseOptions.path), (.error, "\(change)"),
        ])
        if shutdown.isAcceptingWork {
            _ = shutdown.signalReceived()
            scheduleDeadline()
        }
        notifier.stopping(status: "database file lost")
        for runner in runners.values {
            runner.requestStop(.drain)
        }
        wake.signal()
    }
}

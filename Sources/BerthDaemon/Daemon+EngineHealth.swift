import BerthCore
import BerthEngine
import BerthStore
import Foundation

// Marking the engine unhealthy and checking when it answers again.

extension Daemon {
    func engineFailed(_ error: ContainerEngineError) {
        metrics.recordEngineError()
        if engineHealthy {
            markEngineUnhealthy(error)
            statusChanged()
        }
    }

    /// Logs that the engine is unhealthy and starts the interval after which
    /// an engine that still fails is logged again.
    func markEngineUnhealthy(_ error: any Error) {
        engineHealthy = false
        errorLimiter.reset("engine")
        _ = errorLimiter.shouldLog("engine")
        logger.error("container engine is unhealthy; claiming stops until it answers", [(.error, "\(error)")])
    }

    func checkEngine() async {
        do {
            try await engine.ping()
            if !engineHealthy {
                logger.info("container engine answers again; claiming resumes")
                errorLimiter.reset("engine")
            }
            engineHealthy = true
        } catch {
            metrics.recordEngineError()
            if engineHealthy {
                markEngineUnhealthy(error)
            } else if let suppressed = errorLimiter.shouldLog("engine") {
                // The suppressed checks and this one.
                logger.error("container engine is still unhealthy (\(suppressed + 1) failed checks since the last report)", [(.error, "\(error)")])
            }
        }
        statusChanged()
    }

    func reportError(_ operation: String, _ error: any Error) {
        if let suppressed = errorLimiter.shouldLog(operation) {
            let repeats = suppressed > 0 ? " (\(suppressed) more since the last report)" : ""
            logger.error("\(operation) failed\(repeats)", [(.error, "\(error)")])
        }
    }
}

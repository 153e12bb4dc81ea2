import BerthCore
import BerthStore
import Dispatch

extension Daemon {
    /// Writes the metrics file, when the configuration names one, and returns
    /// the error that kept it from being written.
    func writeMetrics(runningContainers: Int, engineHealthy: Bool) async -> (any Error)? {
        guard let path = configuration.metrics.path else { return nil }

        let jobs: QueueStats?
        var failure: (any Error)? = nil
        do {
            jobs = try await database.run { store in try store.stats(now: Clock.nowMilliseconds()) }
        } catch {
            // The counters are still worth writing; the job gauges are left out.
            jobs = nil
            failure = error
        }

        let reading = MetricsReading(jobs: jobs, runningContainers: runningContainers, engineHealthy: engineHealthy)
        let text = PrometheusText.render(metrics.snapshot(), reading)
        // The write and its fsync block, so they run off the cooperative pool.
        let written: Result<Void, MetricsFile.WriteError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(MetricsFile.WriteError) in try MetricsFile.write(text, to: path) })
            }
        }
        if case .failure(let error) = written {
            return error
        }
        return failure
    }
}

import BerthCore
import Foundation
import Testing

/// The metrics file the scenario's daemon wrote, parsed back and compared with the jobs it ran.
@Suite("metrics file")
struct MetricsFileTests {
    @Test("counters match jobs run")
    func countersMatchJobs() async throws {
        let scenario = try await DaemonScenario.shared.value
        let metrics = MetricsSamples(scenario.metricsText)
        let claims = scenario.attempts.values.reduce(0) { $0 + $1.filter { $0.workerID == scenario.workerID }.count }
        // The adopted job's first attempt was claimed by the test, not by the daemon.
        #expect(metrics.value("berth_claims_total", ["queue": "default"]) == Double(claims - 1))
        #expect(metrics.value("berth_attempts_finished_total", ["queue": "default", "outcome": "succeeded"]) == 2)
        #expect(metrics.value("berth_attempts_finished_total", ["queue": "default", "outcome": "failed"]) == 2)
        #expect(metrics.value("berth_attempts_finished_total", ["queue": "default", "outcome": "lost"]) == 1)
        #expect(metrics.value("berth_attempts_finished_total", ["queue": "default", "outcome": "interrupted"]) == 1)
        #expect(metrics.value("berth_retries_total", ["queue": "default"]) == 2)
        #expect(metrics.value("berth_events_stored_total") == Double(scenario.storedEvents))
        #expect(metrics.value("berth_log_lines_stored_total") == Double(scenario.storedLogLines))
        #expect(metrics.value("berth_output_stored_bytes_total") == Double(scenario.storedBytes))
        #expect(metrics.value("berth_engine_errors_total") == 0)
        #expect(metrics.value("berth_engine_up") == 1)
        #expect(metrics.value("berth_running_containers") == 0)
    }

    @Test("job gauges match the database")
    func jobGauges() async throws {
        let scenario = try await DaemonScenario.shared.value
        let metrics = MetricsSamples(scenario.metricsText)
        #expect(metrics.value("berth_jobs", ["queue": "default", "state": "succeeded"]) == 2)
        #expect(metrics.value("berth_jobs", ["queue": "default", "state": "dead"]) == 1)
        #expect(metrics.value("berth_jobs", ["queue": "default", "state": "running"]) == 0)
        #expect(metrics.value("berth_jobs", ["queue": "default", "state": "queued"]) == 1)
        #expect(scenario.jobs[scenario.sleepingJob]?.state == .queued)
        #expect(scenario.jobs[scenario.failingJob]?.state == .dead)
    }

    @Test("histograms count starts and attempts")
    func histograms() async throws {
        let scenario = try await DaemonScenario.shared.value
        let metrics = MetricsSamples(scenario.metricsText)
        let started = scenario.attempts.values.reduce(0) { $0 + $1.filter { $0.startedAt != nil }.count }
        #expect(started == 5)
        #expect(metrics.value("berth_container_start_duration_seconds_count") == Double(started))
        #expect(metrics.value("berth_container_start_duration_seconds_bucket", ["le": "+Inf"]) == Double(started))
        #expect(metrics.value("berth_attempt_duration_seconds_count") == Double(started))
        #expect((metrics.value("berth_attempt_duration_seconds_sum") ?? -1) >= 0)
        let buckets = metrics.samples.filter { $0.name == "berth_attempt_duration_seconds_bucket" }.map(\.value)
        #expect(buckets == buckets.sorted(), "bucket counts must be cumulative")
    }

    @Test("names follow Prometheus conventions")
    func naming() async throws {
        let scenario = try await DaemonScenario.shared.value
        let metrics = MetricsSamples(scenario.metricsText)
        for sample in metrics.samples {
            #expect(sample.name.hasPrefix("berth_"), "\(sample.name)")
        }
        let types = metrics.comments.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ") }
        for type in types where type[3] == "counter" {
            #expect(type[2].hasSuffix("_total"), "\(type[2])")
        }
        let heartbeat = try #require(metrics.value("berth_daemon_heartbeat_timestamp_seconds"))
        #expect(abs(heartbeat - Date().timeIntervalSince1970) < 120)
    }

    @Test("no temporary file left beside it")
    func noTemporaryFile() async throws {
        let scenario = try await DaemonScenario.shared.value
        #expect(scenario.metricsDirectory == ["berth.prom"])
        #expect(scenario.metricsText.hasSuffix("\n"))
    }
}

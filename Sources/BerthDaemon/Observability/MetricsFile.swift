import BerthCore
import BerthStore
import Foundation

/// Values read when the metrics file is written, shown beside the counters.
struct MetricsReading: Sendable {
    /// Jobs by queue and state in the whole database, all workers included.
    var jobs: QueueStats?
    /// Attempts this daemon supervises, one container each.
    var runningContainers: Int
    var engineHealthy: Bool
}

/// Renders the daemon's metrics in the Prometheus text exposition format
/// (version 0.0.4), for node_exporter's textfile collector.
enum PrometheusText {
    static func render(_ metrics: DaemonMetrics.Snapshot, _ reading: MetricsReading) -> String {
        var text = ""

        if let jobs = reading.jobs {
            header(&text, "berth_jobs", "gauge", "Jobs in the database by queue and state.")
            for row in jobs.queues {
                for state in JobState.allCases {
                    text += "berth_jobs\(labels(["queue": row.queue, "state": state.rawValue])) \(row.counts[state] ?? 0)\n"
                }
            }
        }

        header(&text, "berth_claims_total", "counter", "Jobs this daemon claimed, by queue.")
        for (queue, count) in metrics.claims.sorted(by: { $0.key < $1.key }) {
            text += "berth_claims_total\(labels(["queue": queue])) \(count)\n"
        }

        header(&text, "berth_attempts_finished_total", "counter", "Attempts whose result this daemon recorded, by queue and outcome.")
        for (key, count) in metrics.finishedAttempts.sorted(by: { $0.key < $1.key }) {
            text += "berth_attempts_finished_total\(labels(["queue": key.queue, "outcome": key.outcome])) \(count)\n"
        }

        header(&text, "berth_retries_total", "counter", "Attempts after which the retry policy scheduled another attempt, by queue.")
        for (queue, count) in metrics.retries.sorted(by: { $0.key < $1.key }) {
            text += "berth_retries_total\(labels(["queue": queue])) \(count)\n"
        }

        header(&text, "berth_events_stored_total", "counter", "Standard output lines stored as events.")
        text += "berth_events_stored_total \(metrics.eventsStored)\n"
        header(&text, "berth_log_lines_stored_total", "counter", "Standard error lines stored as attempt logs.")
        text += "berth_log_lines_stored_total \(metrics.logLinesStored)\n"
        header(&text, "berth_output_stored_bytes_total", "counter", "Bytes of output lines stored, both streams.")
        text += "berth_output_stored_bytes_total \(metrics.outputBytesStored)\n"

        header(&text, "berth_running_containers", "gauge", "Attempts this daemon supervises, one container each.")
        text += "berth_running_containers \(reading.runningContainers)\n"

        histogram(&text, "berth_container_start_duration_seconds", "Time from creating a container to its start.", metrics.containerStart)
        histogram(&text, "berth_attempt_duration_seconds", "Time from a container's start to the recorded result of its attempt.", metrics.attemptDuration)

        header(&text, "berth_engine_errors_total", "counter", "Engine calls and health checks that failed because the engine was unavailable or timed out.")
        text += "berth_engine_errors_total \(metrics.engineErrors)\n"
        header(&text, "berth_engine_up", "gauge", "1 when the container engine answers, 0 while it is unhealthy.")
        text += "berth_engine_up \(reading.engineHealthy ? 1 : 0)\n"

        header(&text, "berth_daemon_heartbeat_timestamp_seconds", "gauge", "Unix time of the daemon's last heartbeat written to the database.")
        if let heartbeat = metrics.heartbeatAt {
            text += "berth_daemon_heartbeat_timestamp_seconds \(number(heartbeat))\n"
        }
        header(&text, "berth_daemon_start_time_seconds", "gauge", "Unix time when the daemon started.")
        text += "berth_daemon_start_time_seconds \(number(metrics.startedAt))\n"
        return text
    }

    private static func header(_ text: inout String, _ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    private static func histogram(_ text: inout String, _ name: String, _ help: String, _ histogram: Histogram) {
        header(&text, name, "histogram", help)
        let cumulative = histogram.cumulativeCounts
        for (index, bound) in histogram.bounds.enumerated() {
            text += "\(name)_bucket{le=\"\(number(bound))\"} \(cumulative[index])\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(histogram.count)\n"
        text += "\(name)_sum \(number(histogram.sum))\n"
        text += "\(name)_count \(histogram.count)\n"
    }

    /// `{name="value",...}` with the format's escapes for backslash, quote and newline.
    static func labels(_ pairs: [String: String]) -> String {
        let rendered = pairs.sorted { $0.key < $1.key }.map { name, value in
            let escaped = value
                .replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(name)=\"\(escaped)\""
        }
        return "{" + rendered.joined(separator: ",") + "}"
    }

    /// Formats a number as Prometheus parses it: integers without a fraction, others in full precision.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return "\(value)"
    }
}

/// Writes the metrics file so that a reader sees the old file or the new one, never a part.
enum MetricsFile {
    struct WriteError: Error, CustomStringConvertible {
        let path: String
        let reason: String

        var description: String {
            "cannot write the metrics file \(path): \(reason); check that its directory exists and is writable by the daemon's user"
        }
    }

    /// Writes `text` to a temporary file beside `path`, flushes it and renames it over `path`.
    ///
    /// The temporary name starts with a dot and ends in `.tmp`, so node_exporter's
    /// textfile collector, which reads only `*.prom` files, never reads it.
    static func write(_ text: String, to path: String) throws(WriteError) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\(name).\(getpid()).tmp"

        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        // node_exporter runs as its own user: the file must be readable by others whatever the umask.
        fchmod(descriptor, 0o644)

        var failure: String? = nil
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                break
            }
            offset += written
        }
        if failure == nil, fsync(descriptor) != 0 {
            failure = String(cString: strerror(errno))
        }
        close(descriptor)

        if failure == nil, rename(temporary, path) != 0 {
            failure = String(cString: strerror(errno))
        }
        if let failure {
            unlink(temporary)
            throw WriteError(path: path, reason: failure)
        }
    }
}

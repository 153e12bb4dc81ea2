import BerthCore
import BerthStore
import Synchronization

/// Counters, gauges and histograms that the daemon and its attempt runners
/// update as they work, read at every metrics interval to write the
/// Prometheus file. Values count from the daemon's start, as Prometheus
/// counters do.
public final class DaemonMetrics: Sendable {
    /// Upper bounds in seconds of the container start latency buckets: create plus start.
    static let containerStartBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    /// Upper bounds in seconds of the attempt duration buckets, from one second to a day.
    static let attemptDurationBuckets: [Double] = [1, 5, 15, 60, 300, 900, 1800, 3600, 10800, 43200, 86400]

    struct FinishedKey: Hashable, Comparable {
        var queue: String
        var outcome: String

        static func < (lhs: FinishedKey, rhs: FinishedKey) -> Bool {
            (lhs.queue, lhs.outcome) < (rhs.queue, rhs.outcome)
        }
    }

    /// Everything counted so far; copied out whole for rendering.
    struct Snapshot: Sendable {
        var claims: [String: Int] = [:]
        var finishedAttempts: [FinishedKey: Int] = [:]
        var retries: [String: Int] = [:]
        var eventsStored = 0
        var logLinesStored = 0
        var outputBytesStored: Int64 = 0
        var engineErrors = 0
        var containerStart = Histogram(bounds: DaemonMetrics.containerStartBuckets)
        var attemptDuration = Histogram(bounds: DaemonMetrics.attemptDurationBuckets)
        /// Unix time in seconds of the last successful heartbeat write.
        var heartbeatAt: Double?
        var startedAt: Double
    }

    private let state: Mutex<Snapshot>

    public init(now: Int64 = Clock.nowMilliseconds()) {
        state = Mutex(Snapshot(startedAt: Double(now) / 1000))
    }

    func snapshot() -> Snapshot {
        state.withLock { $0 }
    }

    /// Counts a job claimed from `queue`.
    func recordClaim(queue: String) {
        state.withLock { $0.claims[queue, default: 0] += 1 }
    }

    /// Counts a finished attempt of a job of `queue` and, when the retry
    /// policy scheduled another attempt, a retry.
    func recordFinishedAttempt(queue: String, outcome: AttemptOutcome, decision: RetryDecision) {
        state.withLock { snapshot in
            snapshot.finishedAttempts[FinishedKey(queue: queue, outcome: outcome.rawValue), default: 0] += 1
            if case .retry = decision {
                snapshot.retries[queue, default: 0] += 1
            }
        }
    }

    /// Counts a batch of output lines written to the database: standard
    /// output lines as events, standard error lines as log lines.
    func recordStoredOutput(_ lines: [StoredLine]) {
        var events = 0
        var bytes: Int64 = 0
        for line in lines {
            if line.stream == .stdout { events += 1 }
            bytes += Int64(line.text.utf8.count)
        }
        state.withLock { snapshot in
            snapshot.eventsStored += events
            snapshot.logLinesStored += lines.count - events
            snapshot.outputBytesStored += bytes
        }
    }

    /// Counts an engine call that failed because the engine is down or timed out.
    func recordEngineError() {
        state.withLock { $0.engineErrors += 1 }
    }

    /// Records the time from `create` to a started container.
    func observeContainerStart(_ duration: Duration) {
        state.withLock { $0.containerStart.observe(duration.inSeconds) }
    }

    /// Records the time from a container's start to its recorded result.
    func observeAttemptDuration(milliseconds: Int64) {
        state.withLock { $0.attemptDuration.observe(Double(max(0, milliseconds)) / 1000) }
    }

    /// Records a heartbeat written at `now`, in Unix milliseconds.
    func recordHeartbeat(now: Int64) {
        state.withLock { $0.heartbeatAt = Double(now) / 1000 }
    }
}

/// A Prometheus histogram: a count per upper bound, cumulative when rendered.
struct Histogram: Sendable {
    let bounds: [Double]
    /// Observations per bucket, not cumulative; the last entry is the +Inf bucket.
    private(set) var counts: [Int]
    private(set) var sum = 0.0
    private(set) var count = 0

    init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    mutating func observe(_ value: Double) {
        let index = bounds.firstIndex { value <= $0 } ?? bounds.count
        counts[index] += 1
        sum += value
        count += 1
    }

    /// The cumulative count of each bound, then of +Inf.
    var cumulativeCounts: [Int] {
        var total = 0
        return counts.map { count in
            total += count
            return total
        }
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

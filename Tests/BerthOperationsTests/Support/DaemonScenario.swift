import BerthCore
import BerthStore
import BerthTestSupport
import Foundation

/// One datagram the daemon sent, in the order sent: a service notification
/// or a journal record. Both kinds go to one socket, so their order is the
/// order of the daemon's sends.
enum SentDatagram {
    case notification(String)
    case journal(JournalRecord)

    var notification: String? {
        if case .notification(let text) = self { return text }
        return nil
    }

    var journal: JournalRecord? {
        if case .journal(let record) = self { return record }
        return nil
    }
}

/// What one run of `berth daemon` under a simulated systemd left behind,
/// for the tests to examine.
///
/// The run has four jobs. The first is already leased to this worker but its
/// container never existed, so reconciliation records it as lost and the
/// retry succeeds. The second prints events and a secret, the third fails
/// twice and dies, and the fourth sleeps until SIGTERM drains it back to the queue.
/// `NOTIFY_SOCKET` and `BERTH_JOURNAL_SOCKET` name one socket the test binds,
/// `WATCHDOG_USEC` requests a one-second watchdog, and the run ends with SIGTERM.
struct DaemonScenario: @unchecked Sendable {
    // @unchecked: built once by `run()` and only read afterwards.
    var datagrams: [SentDatagram] = []
    var exit: CommandResult?
    /// The metrics file as the daemon left it when it stopped.
    var metricsText = ""
    var jobs: [Int64: JobRecord] = [:]
    var attempts: [Int64: [AttemptRecord]] = [:]
    var adoptedJob: Int64 = 0
    var printingJob: Int64 = 0
    var failingJob: Int64 = 0
    var sleepingJob: Int64 = 0
    var workerID = ""
    let secret = "ops-secret-" + UUID().uuidString
    /// Events, log lines and their bytes in the database after the run.
    var storedEvents = 0
    var storedLogLines = 0
    var storedBytes: Int64 = 0
    var eventPayloads: [String] = []
    /// The files in the metrics file's directory after the run.
    var metricsDirectory: [String] = []

    var notifications: [String] { datagrams.compactMap(\.notification) }
    var journal: [JournalRecord] { datagrams.compactMap(\.journal) }

    /// Index of the first datagram that matches `predicate`.
    func index(where predicate: (SentDatagram) -> Bool) -> Int? {
        datagrams.firstIndex(where: predicate)
    }

    static let shared = Task { try await run() }

    static func run() async throws -> DaemonScenario {
        _ = try await TestImage.require()
        let sandbox = try OperationsSandbox()
        var scenario = DaemonScenario()
        scenario.workerID = sandbox.workerID
        try FileManager.default.createDirectory(atPath: sandbox.directory + "/metrics", withIntermediateDirectories: true)
        try sandbox.writeConfiguration(extra: """
            metrics: { path: "\(sandbox.metricsPath)", interval: "1s" },
            logLevel: "debug",
            """)

        // A lease this worker held before a restart, with no container behind it.
        try await sandbox.createDatabase()
        let store = try JobStore(options: DatabaseOptions(path: sandbox.databasePath))
        let spec = try JSONDecoder().decode(JobSpec.self, from: Data("""
            {"image": "\(TestImage.name)", "command": ["berth-test-job", "exit", "0"]}
            """.utf8))
        let submitted = try store.submit([spec], now: Clock.nowMilliseconds())
        scenario.adoptedJob = submitted[0].id
        let claimed = try store.claim(queue: nil, worker: sandbox.workerID, leaseDuration: .seconds(60), now: Clock.nowMilliseconds())
        guard claimed?.lease.jobID == scenario.adoptedJob else { throw TestFailure("the test could not claim its own job") }

        scenario.printingJob = try await sandbox.submit(
            ["--secret", "OPS_TOKEN"],
            command: ["berth-test-job", "events", "3", "0", "print-env", "OPS_TOKEN", "stderr", "a line on stderr", "exit", "0"])
        scenario.failingJob = try await sandbox.submit([], command: ["berth-test-job", "stderr", "failing on purpose", "exit", "3"])
        scenario.sleepingJob = try await sandbox.submit([], command: ["berth-test-job", "sleep", "120"])

        let listener = try DatagramListener(path: sandbox.directory + "/systemd.sock")
        let recording = listener.startRecording()
        let daemon = try sandbox.startDaemon(environment: [
            "NOTIFY_SOCKET": listener.path, "BERTH_JOURNAL_SOCKET": listener.path, "WATCHDOG_USEC": "1000000",
            "OPS_TOKEN": scenario.secret,
        ])

        var receivedCount = 0
        func collect(for duration: Duration) async throws {
            try await Task.sleep(for: duration)
            let received = recording.received(after: receivedCount)
            receivedCount += received.count
            try scenario.datagrams.append(contentsOf: received.map(Self.classify))
        }

        // Run until the jobs are finished, the sleeping one runs and the metrics file has counted them.
        let ids = [scenario.adoptedJob, scenario.printingJob, scenario.failingJob]
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            try await collect(for: .milliseconds(200))
            let finished = try ids.allSatisfy { try store.requireJob(id: $0).state.isFinished }
                && store.requireJob(id: scenario.sleepingJob).state == .running
            let metrics = (try? String(contentsOfFile: sandbox.metricsPath, encoding: .utf8)) ?? ""
            // The duration of an attempt is observed just after its result is counted.
            let samples = MetricsSamples(metrics)
            if finished, samples.sum("berth_attempts_finished_total") == 5, samples.value("berth_attempt_duration_seconds_count") == 4 {
                break
            }
            if ContinuousClock.now > deadline {
                daemon.killAndWait()
                throw TestFailure("the scenario did not finish in time; daemon stderr:\n\(daemon.standardErrorSoFar)")
            }
            if let early = daemon.poll() {
                throw TestFailure("the daemon exited early: \(early)")
            }
        }
        // A few more watchdog pings while idle.
        try await collect(for: .seconds(1))

        daemon.signal(SIGTERM)
        let exit = try await daemon.wait(timeout: .seconds(30))
        scenario.exit = exit
        try await collect(for: .milliseconds(100))
        scenario.metricsText = try String(contentsOfFile: sandbox.metricsPath, encoding: .utf8)

        scenario.metricsDirectory = try FileManager.default.contentsOfDirectory(atPath: sandbox.directory + "/metrics")
        for id in ids + [scenario.sleepingJob] {
            scenario.jobs[id] = try store.requireJob(id: id)
            scenario.attempts[id] = try store.attempts(jobID: id)
            for event in try store.events(jobID: id) {
                scenario.storedEvents += 1
                scenario.storedBytes += Int64(event.payload.utf8.count)
                scenario.eventPayloads.append(event.payload)
            }
            for line in try store.logs(jobID: id) {
                scenario.storedLogLines += 1
                scenario.storedBytes += Int64(line.line.utf8.count)
            }
        }
        return scenario
    }

    /// Journal records always carry PRIORITY; notifications never do.
    private static func classify(_ datagram: [UInt8]) throws -> SentDatagram {
        let text = String(decoding: datagram, as: UTF8.self)
        if text.hasPrefix("PRIORITY=") {
            return .journal(try JournalRecord(datagram))
        }
        return .notification(text)
    }
}

/// Samples of a Prometheus text file: `name{labels} value` lines, comments skipped.
struct MetricsSamples {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    let samples: [Sample]
    let comments: [String]

    init(_ text: String) {
        var samples: [Sample] = []
        var comments: [String] = []
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("#") {
                comments.append(line)
                continue
            }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = String(line[..<space])
            var labels: [String: String] = [:]
            var name = series
            if let brace = series.firstIndex(of: "{") {
                name = String(series[..<brace])
                let body = series[series.index(after: brace)..<series.index(before: series.endIndex)]
                for pair in body.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                }
            }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        self.samples = samples
        self.comments = comments
    }

    /// Returns the value of the series `name` with exactly `labels`, or nil.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Returns the sum over every series of `name`.
    func sum(_ name: String) -> Double {
        samples.filter { $0.name == name }.reduce(0) { $0 + $1.value }
    }
}

import BerthCore
import BerthTestSupport
import Foundation
import Testing

@testable import BerthStore

/// One test's world: a temporary directory with its database, workspaces,
/// runtime and secrets directories, the daemons it started and the worker
/// ids they used. `deinit` kills those daemons, removes their containers by
/// the `berth.worker` label and deletes the directory.
final class DaemonSandbox {
    private let temporaryDirectory: TemporaryDirectory
    let databasePath: String
    /// Unique per sandbox, so that worker ids and container labels never clash between tests.
    let prefix: String
    private var daemons: [TestDaemon] = []
    private var usedWorkerIDs: Set<String> = []
    private var openedStore: JobStore?

    /// Creates the sandbox and its database, whose first job gets the id `jobIDBase + 1`.
    init(jobIDBase: Int64 = Int64.random(in: 1_000_000_000...9_000_000_000)) throws {
        // Podman runs as root and bind-mounts workspaces from here; 0755 lets the
        // container's user reach nothing but its own workspace, which it owns.
        temporaryDirectory = try TemporaryDirectory(prefix: "berth-daemon", permissions: 0o755)
        databasePath = temporaryDirectory.path("berth.db")
        prefix = "t" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("secrets"), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try startJobIDs(after: jobIDBase)
    }

    /// Makes the next job id `base + 1` by renumbering a cancelled placeholder job.
    ///
    /// Container names (`berth-JOB-ATTEMPT`) are unique per host only. A
    /// daemon removes any container of its next attempt's name before it
    /// creates one, so small job ids would clash with every other berth
    /// database on this machine, such as a benchmark's.
    private func startJobIDs(after base: Int64) throws {
        let placeholder = JobSpec(image: "localhost/berth-placeholder:latest", command: ["true"], hold: true)
        let id = try #require(try store.submit([placeholder], now: Clock.nowMilliseconds()).first?.id)
        _ = try store.cancel(id: id, now: Clock.nowMilliseconds())
        try store.connection.execute("UPDATE jobs SET id = ? WHERE id = ?", [.integer(base), .integer(id)])
    }

    deinit {
        for daemon in daemons {
            daemon.process.killAndWait()
        }
        openedStore = nil
        WorkerContainers.removeBlocking(ofWorkers: usedWorkerIDs.sorted(), environment: environment)
    }

    var directory: URL { temporaryDirectory.url }

    var environment: [String: String] {
        TestHost.environment(home: directory.path)
    }

    /// Returns a worker id unique to this sandbox, such as `t1a2b3c4d-a`.
    func workerID(_ suffix: String = "a") -> String {
        let id = "\(prefix)-\(suffix)"
        usedWorkerIDs.insert(id)
        return id
    }

    // MARK: Configuration

    /// Returns the test configuration for `workerID` with `overrides` merged in, key by key.
    ///
    /// Short intervals keep the tests fast. The engine never pulls, so
    /// nothing reaches a registry.
    func configuration(workerID: String, _ overrides: [String: Any] = [:]) -> [String: Any] {
        let base = TestDaemonConfiguration.base(directory: directory, databasePath: databasePath, workerID: workerID)
        let defaults: [String: Any] = [
            "leaseDuration": "5s",
            "defaultQueue": [
                "stopGrace": "2s",
                "timeout": "2m",
                "retry": ["initialDelay": "1s", "jitter": 0],
            ],
            "shutdown": ["deadline": "30s"],
            "secretsDirectory": directory.appendingPathComponent("secrets").path,
        ]
        return TestDaemonConfiguration.merge(TestDaemonConfiguration.merge(base, defaults), overrides)
    }

    /// Writes `text` to a file in the sandbox and returns its path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        try temporaryDirectory.write(text, to: name)
    }

    /// Writes `configuration` as JSON (which is valid JSON5) and returns the file's path.
    func writeConfiguration(_ configuration: [String: Any], name: String) throws -> String {
        let path = temporaryDirectory.path(name)
        try TestDaemonConfiguration.write(configuration, to: path)
        return path
    }

    // MARK: Daemons

    /// Starts `berth daemon` as worker `suffix` with the test configuration and `overrides`.
    ///
    /// The log goes to `daemon-SUFFIX.log`, so that the log of a restarted
    /// worker also contains its earlier runs.
    @discardableResult
    func startDaemon(
        _ suffix: String = "a", overrides: [String: Any] = [:], environment extra: [String: String] = [:]
    ) throws -> TestDaemon {
        let id = workerID(suffix)
        let path = try writeConfiguration(configuration(workerID: id, overrides), name: "daemon-\(suffix).json5")
        let daemon = try TestDaemon(
            binary: try BerthBinary.require(), configurationPath: path, workerID: id,
            environment: environment.merging(extra) { _, new in new },
            logPath: temporaryDirectory.path("daemon-\(suffix).log"))
        daemons.append(daemon)
        return daemon
    }

    // MARK: The command line

    /// Runs `berth --db DATABASE arguments`.
    func berth(_ arguments: [String]) async throws -> CommandResult {
        try await SpawnedProcess.run(try BerthBinary.require(), ["--db", databasePath] + arguments, environment: environment)
    }

    /// Submits a job on the test image through `berth submit` and returns its id.
    func submit(_ command: [String], options: [String] = []) async throws -> Int64 {
        let image = try await TestImage.require()
        let result = try await berth(["submit", "--image", image] + options + ["--"] + command)
        try #require(result.status == 0, "berth submit failed: \(result)")
        return try #require(Int64(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)), "no job id in: \(result)")
    }

    // MARK: The database

    /// The sandbox's database, opened on first use.
    var store: JobStore {
        get throws {
            if let openedStore { return openedStore }
            let store = try JobStore(options: DatabaseOptions(path: databasePath, busyTimeout: .seconds(10)))
            openedStore = store
            return store
        }
    }

    func job(_ id: Int64) throws -> JobRecord {
        try store.requireJob(id: id)
    }

    func attempts(_ id: Int64) throws -> [AttemptRecord] {
        try store.attempts(jobID: id)
    }

    func events(_ id: Int64) throws -> [EventRecord] {
        try store.events(jobID: id, limit: 100_000)
    }

    func logs(_ id: Int64) throws -> [LogRecord] {
        try store.logs(jobID: id, limit: 100_000)
    }

    /// Waits until job `id` is in one of `states` and returns it.
    @discardableResult
    func waitForState(
        _ id: Int64, _ states: Set<JobState>, timeout: Duration = .seconds(30),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JobRecord {
        let names = states.map(\.rawValue).sorted().joined(separator: " or ")
        try await waitUntil("job \(id) is \(names)", timeout: timeout, file: sourceLocation.filePath, line: sourceLocation.line) {
            try states.contains(job(id).state)
        }
        return try job(id)
    }

    /// Waits until the latest attempt of job `id` has a started container and returns that attempt.
    func waitForRunningContainer(_ id: Int64, timeout: Duration = .seconds(30)) async throws -> AttemptRecord {
        try await waitUntil("job \(id) has a running container", timeout: timeout) {
            let job = try job(id)
            let latest = try attempts(id).last
            return job.state == .running && latest?.containerID != nil && latest?.startedAt != nil
        }
        return try #require(try attempts(id).last)
    }

    // MARK: Podman

    func podman(_ arguments: [String]) async throws -> CommandResult {
        let podman = try #require(TestHost.podman, "podman is not installed")
        return try await SpawnedProcess.run(podman, arguments, environment: environment)
    }

    /// Returns the first object of `podman inspect` for a container.
    func inspect(_ container: String) async throws -> [String: Any] {
        let result = try await podman(["container", "inspect", container])
        try #require(result.status == 0, "podman inspect failed: \(result)")
        let list = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]]
        return try #require(list?.first, "podman inspect printed no object: \(result.standardOutput)")
    }

    func containerExists(_ container: String) async throws -> Bool {
        try await podman(["container", "exists", container]).status == 0
    }

    /// Returns the names of the containers labelled with `workerID`.
    func containers(ofWorker workerID: String) async throws -> [String] {
        try await podman(["ps", "-a", "--filter", "label=berth.worker=\(workerID)", "--format", "{{.Names}}"]).nonEmptyLines
    }
}

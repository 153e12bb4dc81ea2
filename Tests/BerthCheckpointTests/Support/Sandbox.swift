import BerthCore
import BerthTestSupport
import Foundation
import Testing

@testable import BerthStore

/// One test's world: a temporary directory with the database, workspaces,
/// checkpoint store, runtime directory and daemon configurations, the
/// daemons the test started, and their containers. `shutDown()` kills the
/// daemons and removes the containers; `deinit` removes the directory.
final class Sandbox {
    private let temporaryDirectory: TemporaryDirectory
    let databasePath: String
    /// Unique per sandbox, so that worker ids and container labels never clash between tests.
    let prefix: String
    private(set) var daemons: [TestDaemon] = []
    private var workerIDs: Set<String> = []
    private var openedStore: JobStore?

    init() throws {
        // Rootful podman bind-mounts workspaces from here; 0755 lets the
        // container's user reach its own workspace, which it owns.
        temporaryDirectory = try TemporaryDirectory(prefix: "berth-checkpoint", permissions: 0o755)
        databasePath = temporaryDirectory.path("berth.db")
        prefix = "c" + UUID().uuidString.prefix(8).lowercased()

        // Container names are berth-<job>-<attempt> and podman's names are
        // global, so sandboxes running side by side must not share job ids.
        let store = try JobStore(options: DatabaseOptions(path: databasePath, busyTimeout: .seconds(10)))
        try store.connection.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)", [.integer(Int64.random(in: 1...90_000) * 10_000)])
        openedStore = store
    }

    deinit {
        openedStore = nil
    }

    var directory: URL { temporaryDirectory.url }
    var environment: [String: String] { TestHost.environment(home: directory.path) }
    var workspaces: String { directory.appendingPathComponent("workspaces").path }
    var checkpointStore: String { directory.appendingPathComponent("checkpoints").path }

    func workspace(_ jobID: Int64) -> String { workspaces + "/\(jobID)" }

    /// Kills every daemon of the sandbox and removes its containers.
    func shutDown() async {
        for daemon in daemons {
            await daemon.kill()
        }
        await WorkerContainers.remove(ofWorkers: workerIDs.sorted(), environment: environment)
    }

    // MARK: Daemons

    /// Returns the test configuration with short intervals, with `overrides` merged in key by key.
    func configuration(workerID: String, _ overrides: [String: Any]) -> [String: Any] {
        let base = TestDaemonConfiguration.base(directory: directory, databasePath: databasePath, workerID: workerID)
        let defaults: [String: Any] = [
            "concurrency": 4,
            "leaseDuration": "5s",
            "defaultQueue": [
                "stopGrace": "2s", "timeout": "2m", "memory": "256m",
                "retry": ["initialDelay": "1s", "maxDelay": "2s", "jitter": 0],
            ],
            "shutdown": ["deadline": "30s"],
            "secretsDirectory": directory.appendingPathComponent("secrets").path,
            "checkpoints": ["maxFileBytes": "1m", "maxJobBytes": "16m"],
        ]
        return TestDaemonConfiguration.merge(TestDaemonConfiguration.merge(base, defaults), overrides)
    }

    /// Starts `berth daemon` as worker `suffix`; a second start with the same
    /// suffix is the same worker restarted.
    @discardableResult
    func startDaemon(_ suffix: String = "a", overrides: [String: Any] = [:]) throws -> TestDaemon {
        let workerID = "\(prefix)-\(suffix)"
        workerIDs.insert(workerID)
        let path = temporaryDirectory.path("daemon-\(suffix).json5")
        try TestDaemonConfiguration.write(configuration(workerID: workerID, overrides), to: path)
        let daemon = try TestDaemon(
            binary: try BerthBinary.require(), configurationPath: path, workerID: workerID, environment: environment)
        daemons.append(daemon)
        return daemon
    }

    // MARK: The command line

    /// Runs `berth --db DATABASE arguments`.
    func berth(_ arguments: [String]) async throws -> CommandResult {
        try await SpawnedProcess.run(try BerthBinary.require(), ["--db", databasePath] + arguments, environment: environment)
    }

    /// Submits `spec` (a JSON object; the checkpoint image is filled in) and returns the job's id.
    func submit(_ spec: [String: Any]) async throws -> Int64 {
        var spec = spec
        spec["image"] = try await CheckpointImage.require()
        let data = try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys])
        let result = try await berth(["submit", "--spec", String(decoding: data, as: UTF8.self)])
        try #require(result.status == 0, "berth submit failed: \(result)")
        return try #require(Int64(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)), "no job id in \(result)")
    }

    /// Submits a generic job that runs `berth-step-job` with `arguments`.
    func submitSteps(_ arguments: [String], retry: [String: Any] = [:], limits: [String: Any] = [:]) async throws -> Int64 {
        var spec: [String: Any] = ["command": ["/bin/berth-step-job"] + arguments]
        if !retry.isEmpty { spec["retry"] = retry }
        if !limits.isEmpty { spec["limits"] = limits }
        return try await submit(spec)
    }

    // MARK: The database

    var store: JobStore {
        get throws {
            if let openedStore { return openedStore }
            let store = try JobStore(options: DatabaseOptions(path: databasePath, busyTimeout: .seconds(10)))
            openedStore = store
            return store
        }
    }

    func job(_ id: Int64) throws -> JobRecord { try store.requireJob(id: id) }
    func attempts(_ id: Int64) throws -> [AttemptRecord] { try store.attempts(jobID: id) }
    func checkpoints(_ id: Int64) throws -> [CheckpointRecord] { try store.checkpoints(jobID: id) }
    func logs(_ id: Int64, attempt: Int? = nil) throws -> [String] {
        try store.logs(jobID: id, attempt: attempt, limit: 100_000).map(\.line)
    }

    /// Returns the job's events that are JSON objects, decoded, with their attempt.
    func events(_ id: Int64) throws -> [(attempt: Int, object: [String: Any])] {
        try store.events(jobID: id, limit: 100_000).compactMap { event in
            guard event.isJSON,
                  let object = (try? JSONSerialization.jsonObject(with: Data(event.payload.utf8))) as? [String: Any]
            else { return nil }
            return (event.attempt, object)
        }
    }

    /// Returns the events of type `type`, with their attempt.
    func events(_ id: Int64, type: String) throws -> [(attempt: Int, object: [String: Any])] {
        try events(id).filter { $0.object["type"] as? String == type }
    }

    /// Waits until job `id` is in one of `states` and returns it.
    @discardableResult
    func waitForState(
        _ id: Int64, _ states: Set<JobState>, timeout: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JobRecord {
        let names = states.map(\.rawValue).sorted().joined(separator: " or ")
        try await waitUntil("job \(id) is \(names)", timeout: timeout, file: sourceLocation.filePath, line: sourceLocation.line) {
            try states.contains(job(id).state)
        }
        return try job(id)
    }

    /// Waits until the job has a stored, valid checkpoint named `name`.
    func waitForCheckpoint(_ id: Int64, named name: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await waitUntil("job \(id) has checkpoint \(name)", timeout: timeout, file: sourceLocation.filePath, line: sourceLocation.line) {
            try checkpoints(id).contains { $0.name == name && $0.valid }
        }
    }

    /// Waits for the container of the job's latest attempt to run and returns its id.
    func runningContainer(_ id: Int64, timeout: Duration = .seconds(30)) async throws -> String {
        try await waitUntil("job \(id) has a running container", timeout: timeout) {
            let latest = try attempts(id).last
            return try job(id).state == .running && latest?.containerID != nil && latest?.startedAt != nil
        }
        return try #require(try attempts(id).last?.containerID)
    }

    func podman(_ arguments: [String]) async throws -> CommandResult {
        let podman = try #require(TestHost.podman, "podman is not installed")
        return try await SpawnedProcess.run(podman, arguments, environment: environment)
    }
}

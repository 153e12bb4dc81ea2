import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

/// A temporary directory holding one test's database, configuration,
/// directories and sockets, under /tmp so socket paths stay short.
/// `deinit` removes the containers of its worker and the directory.
final class OperationsSandbox: @unchecked Sendable {
    // @unchecked: a sandbox belongs to one test and is used by it alone.
    private let temporaryDirectory: TemporaryDirectory
    let workerID: String

    init() throws {
        // Podman, as root, bind-mounts workspaces from here for a container user that is not root.
        temporaryDirectory = try TemporaryDirectory(prefix: "bops", parent: "/tmp", permissions: 0o755)
        workerID = "ops-" + UUID().uuidString.prefix(8).lowercased()
    }

    deinit {
        WorkerContainers.removeBlocking(ofWorkers: [workerID], environment: environment)
    }

    var directory: String { temporaryDirectory.path }
    var databasePath: String { directory + "/berth.db" }
    var configurationPath: String { directory + "/berth.json5" }
    var workspaces: String { directory + "/workspaces" }
    var checkpoints: String { directory + "/checkpoints" }
    var runtime: String { directory + "/run" }
    var secrets: String { directory + "/secrets" }
    var metricsPath: String { directory + "/metrics/berth.prom" }

    /// The environment of every berth the tests start: nothing from the test runner but HOME.
    var environment: [String: String] {
        TestHost.environment(home: ProcessInfo.processInfo.environment["HOME"] ?? "/root", language: nil)
    }

    /// Writes a configuration for fast tests: short intervals, podman with local images only.
    /// `engine` replaces the engine object; `extra` adds top-level JSON5 members.
    func writeConfiguration(engine: String = #"{ kind: "podman", pullPolicy: "never" }"#, extra: String = "") throws {
        let text = """
            {
              database: { path: "\(databasePath)" },
              directories: { workspaces: "\(workspaces)", checkpoints: "\(checkpoints)", runtime: "\(runtime)" },
              workerID: "\(workerID)",
              engine: \(engine),
              concurrency: 2,
              defaultQueue: {
                memory: "64m", pids: 64, timeout: "60s", stopGrace: "2s",
                retry: { maxAttempts: 2, initialDelay: "1s", maxDelay: "1s", jitter: 0 },
              },
              leaseDuration: "10s",
              heartbeatInterval: "1s",
              pollInterval: "200ms",
              shutdown: { deadline: "20s" },
              secretsDirectory: "\(secrets)",
              \(extra)
            }
            """
        try text.write(toFile: configurationPath, atomically: true, encoding: .utf8)
    }

    /// Creates the database so that its next job id is random and large.
    ///
    /// Container names are `berth-<job>-<attempt>` on the whole host, so two
    /// tests whose databases both start at job 1 would reach for the same
    /// container. A held job in the queue `parked` keeps the high id.
    func createDatabase() async throws {
        let held = try await berth(["submit", "--hold", "--queue", "parked", "--image", TestImage.name, "--", "true"])
        guard held.status == 0 else { throw TestFailure("submit failed: \(held)") }
        let base = Int64.random(in: 100_000...90_000_000)
        let update = try await SpawnedProcess.run(
            "/usr/bin/sqlite3", [databasePath, "UPDATE jobs SET id = \(base) WHERE id = 1"], environment: environment,
            timeout: .seconds(120))
        guard update.status == 0 else { throw TestFailure("sqlite3 could not move the first job id (install sqlite3): \(update)") }
    }

    /// Runs `berth ARGUMENTS` against this sandbox's database and returns when it exits.
    func berth(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> CommandResult {
        try await SpawnedProcess.run(
            try BerthBinary.require(), ["--db", databasePath] + arguments,
            environment: environment.merging(extra) { $1 }, timeout: .seconds(120))
    }

    /// Starts `berth daemon` with this sandbox's configuration and `extra` variables.
    func startDaemon(environment extra: [String: String]) throws -> SpawnedProcess {
        try SpawnedProcess(
            try BerthBinary.require(), ["daemon", "--config", configurationPath],
            environment: environment.merging(extra) { $1 })
    }

    /// Submits one job of the test image and returns its id.
    func submit(_ options: [String], command: [String]) async throws -> Int64 {
        let result = try await berth(["submit", "--image", TestImage.name] + options + ["--"] + command)
        guard result.status == 0, let id = Int64(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure("submit failed: \(result)")
        }
        return id
    }

    /// Waits until every job in `ids` is in a finished state.
    func waitUntilFinished(_ ids: [Int64], timeout: Duration = .seconds(90)) async throws -> [Int64: JobRecord] {
        let store = try JobStore(options: DatabaseOptions(path: databasePath))
        let deadline = ContinuousClock.now + timeout
        while true {
            let jobs = try ids.map { try store.requireJob(id: $0) }
            if jobs.allSatisfy({ $0.state.isFinished }) {
                return Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
            }
            if ContinuousClock.now > deadline {
                throw TestFailure("jobs not finished after \(timeout): \(jobs.map { "\($0.id) \($0.state)" })")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

/// One test's temporary world: database, workspaces, checkpoint store,
/// runtime directory, configuration files, the daemons it started and their
/// containers. `tearDown()` kills the daemons, removes their containers and
/// unmounts what the test mounted; `deinit` removes the directory.
final class FaultSandbox {
    private let temporaryDirectory: TemporaryDirectory
    let databasePath: String
    /// Part of every worker id, so that the containers of this sandbox are told apart from all others.
    let prefix: String
    private(set) var daemons: [TestDaemon] = []
    private var workerIDs: Set<String> = []
    private var mounts: [String] = []
    private var openedStore: JobStore?

    init() async throws {
        // The container's user (65534) must reach its workspace through this directory.
        temporaryDirectory = try TemporaryDirectory(prefix: "berth-fault", permissions: 0o755)
        databasePath = temporaryDirectory.path("db/berth.db")
        prefix = "f" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: (databasePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    }

    deinit {
        openedStore = nil
    }

    var directory: URL { temporaryDirectory.url }
    var environment: [String: String] { TestHost.environment(home: directory.path) }
    var databaseDirectory: String { (databasePath as NSString).deletingLastPathComponent }
    var workspaces: String { directory.appendingPathComponent("workspaces").path }
    var checkpointStore: String { directory.appendingPathComponent("checkpoints").path }

    /// Creates the database and moves its job ids far from those of other
    /// sandboxes, because podman's container names (berth-<job>-<attempt>) are global.
    func createDatabase() async throws {
        // Opening the store creates and migrates the file, as a daemon or `berth submit` would.
        _ = try JobStore(options: DatabaseOptions(path: databasePath, busyTimeout: .seconds(10)))
        let first = Int64.random(in: 1...90_000) * 10_000
        _ = try await sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', \(first));")
    }

    /// Kills the daemons, removes their containers and unmounts the test's mounts.
    func tearDown() async {
        for daemon in daemons {
            await daemon.kill()
        }
        await WorkerContainers.remove(ofWorkers: workerIDs.sorted(), environment: environment)
        openedStore = nil
        for mount in mounts.reversed() {
            _ = try? await SpawnedProcess.run("/bin/umount", ["-l", mount], environment: environment)
        }
        mounts = []
    }

    // MARK: Daemons

    /// Returns the configuration of worker `workerID`: short intervals, with `overrides` merged in key by key.
    func configuration(workerID: String, _ overrides: [String: Any]) -> [String: Any] {
        let base = TestDaemonConfiguration.base(directory: directory, databasePath: databasePath, workerID: workerID)
        let defaults: [String: Any] = [
            "concurrency": 4,
            "leaseDuration": "6s",
            "defaultQueue": [
                "stopGrace": "1s", "timeout": "2m", "memory": "128m",
                "retry": ["initialDelay": "500ms", "maxDelay": "1s", "jitter": 0],
            ],
            "shutdown": ["deadline": "20s"],
        ]
        return TestDaemonConfiguration.merge(TestDaemonConfiguration.merge(base, defaults), overrides)
    }

    /// Starts `berth daemon` as worker `<prefix>-<suffix>`; starting the same suffix again restarts that worker.
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

    /// Returns the log of every daemon the sandbox started, oldest first, for a failure report.
    var daemonLogs: String {
        daemons.enumerated().map { "--- daemon run \($0.offset + 1) (\($0.element.workerID))\n\($0.element.log)" }.joined(separator: "\n")
    }

    // MARK: Tools

    /// Runs `berth --db DATABASE arguments`, with `extraEnvironment` added to the sandbox's environment.
    func berth(_ arguments: [String], extraEnvironment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        try await SpawnedProcess.run(
            try BerthBinary.require(), ["--db", databasePath] + arguments,
            environment: environment.merging(extraEnvironment) { $1 }, timeout: timeout)
    }

    /// Runs `sql` in sqlite3's shell on the database.
    func sql(_ sql: String) async throws -> CommandResult {
        guard let sqlite3 = TestHost.sqlite3 else { throw TestFailure("sqlite3 is not installed") }
        return try await SpawnedProcess.run(sqlite3, ["-batch", databasePath, sql], environment: environment)
    }

    func podman(_ arguments: [String]) async throws -> CommandResult {
        guard let podman = TestHost.podman else { throw TestFailure("podman is not installed") }
        return try await SpawnedProcess.run(podman, arguments, environment: environment)
    }

    /// Returns the ids of the containers that carry this sandbox's worker labels, running or not.
    func containers() async throws -> [String] {
        var found: [String] = []
        for workerID in workerIDs.sorted() {
            found += try await WorkerContainers.ids(ofWorker: workerID, environment: environment)
        }
        return found
    }

    /// Mounts a tmpfs of `size` (such as "2m") on `path`, which it creates; `tearDown()` unmounts it.
    func mountTmpfs(at path: String, size: String) async throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = try await SpawnedProcess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path], environment: environment)
        guard mounted.status == 0 else { throw TestFailure("mount -t tmpfs on \(path) failed: \(mounted)") }
        mounts.append(path)
    }

    /// Writes zeros to a file in `directory` until its file system is full and returns the file's path.
    func fillFileSystem(of directory: String) async throws -> String {
        let filler = directory + "/filler"
        // cat fails with ENOSPC once the file system is full, which is the point.
        _ = try await SpawnedProcess.run("/bin/sh", ["-c", "cat /dev/zero > '\(filler)' 2>/dev/null"], environment: environment)
        var status = statvfs()
        guard statvfs(directory, &status) == 0 else { throw TestFailure("statvfs \(directory) failed: \(String(cString: strerror(errno)))") }
        guard status.f_bavail == 0 else { throw TestFailure("\(directory) still has \(status.f_bavail) free blocks after filling it") }
        return filler
    }

    /// Remounts the tmpfs at `path`, which `mountTmpfs` mounted, with `options` such as "ro" or "rw".
    func remount(_ path: String, options: String) async throws {
        let remounted = try await SpawnedProcess.run("/bin/mount", ["-o", "remount,\(options)", path], environment: environment)
        guard remounted.status == 0 else { throw TestFailure("mount -o remount,\(options) \(path) failed: \(remounted)") }
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

    /// Closes the test's own connection, for tests that replace or break the database file.
    func closeStore() {
        openedStore = nil
    }
}

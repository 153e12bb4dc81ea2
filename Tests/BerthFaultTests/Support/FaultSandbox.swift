import BerthCore
import BerthStore
import Foundation
import Testing

/// One test's temporary world: database, workspaces, checkpoint store,
/// runtime directory, configuration files, the daemons it started and their
/// containers. `tearDown()` kills the daemons, removes their containers and
/// unmounts what the test mounted; `deinit` removes the directory.
final class FaultSandbox {
    let directory: URL
    let databasePath: String
    /// Part of every worker id, so that the containers of this sandbox are told apart from all others.
    let prefix: String
    private(set) var daemons: [FaultDaemon] = []
    private var workerIDs: Set<String> = []
    private var mounts: [String] = []
    private var openedStore: JobStore?

    init() async throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/berth-fault-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else {
            throw FaultTestError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        directory = URL(fileURLWithPath: String(cString: created))
        // The container's user (65534) must reach its workspace through this directory.
        chmod(directory.path, 0o755)
        databasePath = directory.appendingPathComponent("db/berth.db").path
        prefix = "f" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: (databasePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    }

    deinit {
        openedStore = nil
        try? FileManager.default.removeItem(at: directory)
    }

    var environment: [String: String] { Shell.environment(home: directory.path) }
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
        if let podman = Shell.podman {
            for workerID in workerIDs.sorted() {
                let listed = try? await Shell.run(podman, ["ps", "-aq", "--filter", "label=berth.worker=\(workerID)"], environment: environment)
                for container in listed?.lines ?? [] {
                    _ = try? await Shell.run(podman, ["rm", "-f", "-t", "0", container], environment: environment)
                }
            }
        }
        openedStore = nil
        for mount in mounts.reversed() {
            _ = try? await Shell.run("/bin/umount", ["-l", mount], environment: environment)
        }
        mounts = []
    }

    // MARK: Daemons

    /// Returns the configuration of worker `workerID`: short intervals, with `overrides` merged in key by key.
    func configuration(workerID: String, _ overrides: [String: Any]) -> [String: Any] {
        let base: [String: Any] = [
            "database": ["path": databasePath],
            "directories": [
                "workspaces": workspaces, "checkpoints": checkpointStore,
                "runtime": directory.appendingPathComponent("run").path,
            ],
            "workerID": workerID,
            "engine": ["kind": "podman", "pullPolicy": "never", "callTimeout": "30s"],
            "concurrency": 4,
            "pollInterval": "100ms",
            "heartbeatInterval": "1s",
            "leaseDuration": "6s",
            "defaultQueue": [
                "stopGrace": "1s", "timeout": "2m", "memory": "128m",
                "retry": ["initialDelay": "500ms", "maxDelay": "1s", "jitter": 0],
            ],
            "shutdown": ["deadline": "20s"],
            "output": ["batchInterval": "20ms"],
            "logLevel": "debug",
        ]
        return Self.merge(base, overrides)
    }

    private static func merge(_ base: [String: Any], _ overrides: [String: Any]) -> [String: Any] {
        var merged = base
        for (key, value) in overrides {
            if let nested = value as? [String: Any], let existing = merged[key] as? [String: Any] {
                merged[key] = merge(existing, nested)
            } else {
                merged[key] = value
            }
        }
        return merged
    }

    /// Starts `berth daemon` as worker `<prefix>-<suffix>`; starting the same suffix again restarts that worker.
    @discardableResult
    func startDaemon(_ suffix: String = "a", overrides: [String: Any] = [:]) throws -> FaultDaemon {
        let workerID = "\(prefix)-\(suffix)"
        workerIDs.insert(workerID)
        let data = try JSONSerialization.data(withJSONObject: configuration(workerID: workerID, overrides), options: [.sortedKeys])
        let path = directory.appendingPathComponent("daemon-\(suffix).json5").path
        try data.write(to: URL(fileURLWithPath: path))
        let daemon = try FaultDaemon.start(binary: try BerthExecutable.require(), configurationPath: path, workerID: workerID, environment: environment)
        daemons.append(daemon)
        return daemon
    }

    /// Returns the log of every daemon the sandbox started, oldest first, for a failure report.
    var daemonLogs: String {
        daemons.enumerated().map { "--- daemon run \($0.offset + 1) (\($0.element.workerID))\n\($0.element.log)" }.joined(separator: "\n")
    }

    // MARK: Tools

    /// Runs `berth --db DATABASE arguments`, with `extraEnvironment` added to the sandbox's environment.
    func berth(_ arguments: [String], extraEnvironment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> Finished {
        try await Shell.run(
            try BerthExecutable.require(), ["--db", databasePath] + arguments,
            environment: environment.merging(extraEnvironment) { $1 }, timeout: timeout)
    }

    /// Runs `sql` in sqlite3's shell on the database.
    func sql(_ sql: String) async throws -> Finished {
        guard let sqlite3 = Shell.sqlite3 else { throw FaultTestError("sqlite3 is not installed") }
        return try await Shell.run(sqlite3, ["-batch", databasePath, sql], environment: environment)
    }

    func podman(_ arguments: [String]) async throws -> Finished {
        guard let podman = Shell.podman else { throw FaultTestError("podman is not installed") }
        return try await Shell.run(podman, arguments, environment: environment)
    }

    /// Returns the ids of the containers that carry this sandbox's worker labels, running or not.
    func containers() async throws -> [String] {
        var found: [String] = []
        for workerID in workerIDs.sorted() {
            let listed = try await podman(["ps", "-aq", "--filter", "label=berth.worker=\(workerID)"])
            guard listed.status == 0 else { throw FaultTestError("podman ps failed: \(listed)") }
            found += listed.lines
        }
        return found
    }

    /// Mounts a tmpfs of `size` (such as "2m") on `path`, which it creates; `tearDown()` unmounts it.
    func mountTmpfs(at path: String, size: String) async throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = try await Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path], environment: environment)
        guard mounted.status == 0 else { throw FaultTestError("mount -t tmpfs on \(path) failed: \(mounted)") }
        mounts.append(path)
    }

    /// Writes zeros to a file in `directory` until its file system is full and returns the file's path.
    func fillFileSystem(of directory: String) async throws -> String {
        let filler = directory + "/filler"
        // cat fails with ENOSPC once the file system is full, which is the point.
        _ = try await Shell.run("/bin/sh", ["-c", "cat /dev/zero > '\(filler)' 2>/dev/null"], environment: environment)
        var status = statvfs()
        guard statvfs(directory, &status) == 0 else { throw FaultTestError("statvfs \(directory) failed: \(String(cString: strerror(errno)))") }
        guard status.f_bavail == 0 else { throw FaultTestError("\(directory) still has \(status.f_bavail) free blocks after filling it") }
        return filler
    }

    /// Remounts the tmpfs at `path`, which `mountTmpfs` mounted, with `options` such as "ro" or "rw".
    func remount(_ path: String, options: String) async throws {
        let remounted = try await Shell.run("/bin/mount", ["-o", "remount,\(options)", path], environment: environment)
        guard remounted.status == 0 else { throw FaultTestError("mount -o remount,\(options) \(path) failed: \(remounted)") }
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

/// The built `berth` executable, beside the test bundle because this target depends on it.
enum BerthExecutable {
    static let path: String? = {
        if let override = ProcessInfo.processInfo.environment["BERTH_BINARY"], !override.isEmpty {
            return override
        }
        guard let executable = realpath("/proc/self/exe", nil) else { return nil }
        defer { free(executable) }
        let candidate = URL(fileURLWithPath: String(cString: executable)).deletingLastPathComponent().appendingPathComponent("berth").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    static func require() throws -> String {
        guard let path else { throw FaultTestError("no berth executable beside the tests; run swift build first or set BERTH_BINARY") }
        return path
    }
}

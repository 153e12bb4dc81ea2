import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension FaultScenarios {
    /// The database's file or file system breaks under a running daemon, or
    /// before one starts: full, read-only, deleted, or locked by another process.
    @Suite struct DatabaseFaults {
        /// The database's tmpfs fills up while a job prints events.
        ///
        /// Measured: a batch submission fails whole with SQLITE_FULL, and the
        /// daemon's heartbeats fail and are logged. The job's output waits
        /// while its batch is retried, and is stored in full once space
        /// returns. Output that cannot be stored for 30 seconds fails the
        /// attempt with the reason, and a retry runs the job again. When the
        /// result itself cannot be stored for about 15 seconds, the daemon
        /// gives up on it, and the attempt is rescued as `lost` and retried
        /// once its lease expires.
        @Test func diskFullDatabase() async throws {
            try await withFaultSandbox(databaseFileSystem: "8m") { sandbox in
                let image = try await FaultImage.require()
                let daemon = try sandbox.startDaemon()
                try await daemon.waitForLog("daemon started")

                let running = try await submit(sandbox, image: image, ["berth-test-job", "events", "100", "0.05"])
                try await waitUntil("job \(running) stores its first events") {
                    try sandbox.store.events(jobID: running, limit: 1000).count >= 5
                }
                let filler = try await sandbox.fillFileSystem(of: sandbox.databaseDirectory)

                // 16 specs of 100 KiB each cannot fit, so none of them may be stored.
                let jobsBefore = try sandbox.store.jobs(matching: JobFilter(limit: 10_000)).map(\.id)
                let padding = String(repeating: "x", count: 100 * 1024)
                let lines = try (0..<16).map { index in
                    let spec: [String: Any] = ["image": image, "command": ["berth-test-job", "stdout", "\(index) \(padding)"]]
                    return String(decoding: try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]), as: UTF8.self)
                }
                let batch = sandbox.directory.appendingPathComponent("large-batch.jsonl")
                try lines.joined(separator: "\n").write(to: batch, atomically: true, encoding: .utf8)
                let rejected = try await sandbox.berth(["submit", "--file", batch.path])
                #expect(rejected.status == 1, "\(rejected)")
                #expect(rejected.standardOutput.isEmpty, "ids printed for a failed batch: \(rejected)")
                #expect(rejected.standardError.contains("database \(sandbox.databasePath)"), "\(rejected)")
                #expect(rejected.standardError.contains("disk full"), "\(rejected)")
                #expect(rejected.standardError.contains("Free space on the file system that holds \(sandbox.databaseDirectory)"), "\(rejected)")
                #expect(try sandbox.store.jobs(matching: JobFilter(limit: 10_000)).map(\.id) == jobsBefore, "part of a failed batch was stored")

                try await daemon.waitForLog("disk full", timeout: .seconds(10))
                try await Task.sleep(for: .seconds(2))
                #expect(daemon.isRunning, "the daemon exited while the database's disk was full")

                try FileManager.default.removeItem(atPath: filler)
                try await waitUntil("job \(running) finishes after space returns", timeout: .seconds(60)) {
                    try [.succeeded, .dead, .cancelled].contains(sandbox.store.requireJob(id: running).state)
                }
                let attempts = try sandbox.store.attempts(jobID: running)
                let events = try sandbox.store.events(jobID: running, limit: 1000)
                #expect(try sandbox.store.requireJob(id: running).state == .succeeded, "attempts: \(attempts.map { "\($0.outcome?.rawValue ?? "-"): \($0.message ?? "")" })")
                for attempt in attempts where attempt.outcome != .succeeded {
                    #expect(attempt.message?.isEmpty == false, "attempt \(attempt.attempt) ended \(attempt.outcome?.rawValue ?? "-") without a reason")
                }
                for attempt in attempts where attempt.outcome == .succeeded {
                    let own = events.filter { $0.attempt == attempt.attempt }
                    #expect(own.map(\.sequence) == Array(1...100), "succeeded attempt \(attempt.attempt) stored \(own.count) of 100 events")
                }

                // Once space is back, the same daemon runs a new job completely.
                let after = try await submit(sandbox, image: image, ["berth-test-job", "events", "3", "0"])
                try await waitUntil("job \(after) succeeds", timeout: .seconds(30)) {
                    try sandbox.store.requireJob(id: after).state == .succeeded
                }
                #expect(try sandbox.store.events(jobID: after, limit: 10).count == 3)
                #expect(try await sandbox.sql("PRAGMA integrity_check;").standardOutput == "ok\n")

                daemon.signal(SIGTERM)
                #expect(try await daemon.waitForExit() == .exited(0))
            }
        }

        /// The database's file system is mounted read-only: the daemon refuses
        /// to start, commands that only read still work, and a submission fails.
        @Test func readOnlyDatabase() async throws {
            try await withFaultSandbox(databaseFileSystem: "8m") { sandbox in
                let image = try await FaultImage.require()
                let heldJob = try await sandbox.berth(["submit", "--hold", "--image", image, "--", "true"])
                try #require(heldJob.status == 0, "\(heldJob)")
                let id = heldJob.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                sandbox.closeStore()
                try await sandbox.remount(sandbox.databaseDirectory, options: "ro")

                let listed = try await sandbox.berth(["ls"])
                #expect(listed.status == 0, "\(listed)")
                #expect(listed.lines.dropFirst().first?.hasPrefix(id + " ") == true, "\(listed)")
                let shown = try await sandbox.berth(["show", id])
                #expect(shown.status == 0, "\(shown)")

                let submitted = try await sandbox.berth(["submit", "--image", image, "--", "true"])
                #expect(submitted.status == 1, "\(submitted)")
                #expect(submitted.standardError.contains("database \(sandbox.databasePath)"), "\(submitted)")
                #expect(submitted.standardError.contains("read-only"), "\(submitted)")

                let daemon = try sandbox.startDaemon()
                let status = try await daemon.waitForExit(timeout: .seconds(20))
                #expect(status == .exited(1), "daemon log:\n\(daemon.log)")
                #expect(daemon.log.contains("cannot start: database \(sandbox.databasePath)"), "daemon log:\n\(daemon.log)")
                #expect(daemon.log.contains("mounted read-only"), "daemon log:\n\(daemon.log)")

                try await sandbox.remount(sandbox.databaseDirectory, options: "rw")
                #expect(try await sandbox.sql("PRAGMA integrity_check;").standardOutput == "ok\n")
                let approved = try await sandbox.berth(["approve", id])
                #expect(approved.status == 0, "writing fails after the file system is writable again: \(approved)")
            }
        }

        /// What happens to the database file under the running daemon.
        enum FileChange: String, CaseIterable {
            /// `rm` of the file and its -wal and -shm files.
            case deleted
            /// A copy renamed over it, as a restore from a backup would do.
            case replaced
        }

        /// The database file is deleted or replaced while the daemon runs a job:
        /// the daemon notices at its next heartbeat, stops the job's container and exits 1.
        @Test(arguments: FileChange.allCases)
        func changedDatabaseFile(_ change: FileChange) async throws {
            try await withFaultSandbox { sandbox in
                let image = try await FaultImage.require()
                let daemon = try sandbox.startDaemon()
                try await daemon.waitForLog("daemon started")
                let running = try await submit(sandbox, image: image, ["berth-test-job", "stdout", "started", "sleep", "60"])
                try await waitUntil("job \(running) starts its container") {
                    try sandbox.store.attempts(jobID: running).last?.startedAt != nil
                }
                #expect(try await sandbox.containers().count == 1)

                sandbox.closeStore()
                switch change {
                case .deleted:
                    for suffix in ["", "-wal", "-shm"] {
                        try? FileManager.default.removeItem(atPath: sandbox.databasePath + suffix)
                    }
                case .replaced:
                    let copy = sandbox.databasePath + ".restored"
                    let copied = try await sandbox.sql(".backup '\(copy)'")
                    try #require(copied.status == 0, "\(copied)")
                    try #require(rename(copy, sandbox.databasePath) == 0, "rename failed: \(String(cString: strerror(errno)))")
                }
                let status = try await daemon.waitForExit(timeout: .seconds(20))
                #expect(status == .exited(1), "daemon log:\n\(daemon.log)")
                #expect(daemon.log.contains("the database file changed under the daemon"), "daemon log:\n\(daemon.log)")
                let description = change == .deleted ? "was deleted while it was open" : "was replaced by another file while it was open"
                #expect(daemon.log.contains("database \(sandbox.databasePath) \(description)"), "daemon log:\n\(daemon.log)")
                try await waitUntil("the job's container is removed", timeout: .seconds(20)) {
                    try await sandbox.containers().isEmpty
                }

                // After a deletion the next command reports the missing
                // database. A replaced file shows the restored jobs.
                let listed = try await sandbox.berth(["ls", "--json"])
                if change == .deleted {
                    #expect(listed.status == 1, "\(listed)")
                    #expect(listed.standardError.contains("no database at \(sandbox.databasePath)"), "\(listed)")
                } else {
                    #expect(listed.status == 0, "\(listed)")
                    #expect(listed.lines.count == 1, "\(listed)")
                    #expect(try await sandbox.sql("PRAGMA integrity_check;").standardOutput == "ok\n")
                }
            }
        }

        /// Another process holds a write transaction open for longer than the
        /// busy timeout. A submission fails with a message that names the lock,
        /// and the daemon's heartbeats fail and are logged. Once the lock is
        /// released, everything goes on, and the running job keeps its lease.
        @Test func lockedDatabase() async throws {
            try await withFaultSandbox { sandbox in
                let image = try await FaultImage.require()
                let sqlite3 = try #require(TestHost.sqlite3)
                let daemon = try sandbox.startDaemon(overrides: ["database": ["busyTimeout": "1s"]])
                try await daemon.waitForLog("daemon started")
                // The job prints nothing while the lock is held, because lines
                // that cannot be stored are lost, as in diskFullDatabase.
                let running = try await submit(
                    sandbox, image: image, ["berth-test-job", "stdout", #"{"type":"before"}"#, "sleep", "6", "stdout", #"{"type":"after"}"#])
                try await waitUntil("job \(running) stores its first event") {
                    try sandbox.store.events(jobID: running, limit: 10).count == 1
                }

                let lock = try await WriteLockHolder.start(in: sandbox, sqlite3: sqlite3, timeout: .seconds(60))
                let lockedAt = ContinuousClock.now

                let submitted = try await sandbox.berth(
                    ["submit", "--image", image, "--", "true"], extraEnvironment: ["BERTH_BUSY_TIMEOUT": "1s"])
                #expect(submitted.status == 1, "\(submitted)")
                #expect(submitted.standardError.contains("database \(sandbox.databasePath): locked by another process"), "\(submitted)")
                #expect(submitted.standardError.contains("after waiting"), "\(submitted)")
                #expect(submitted.standardError.contains("fuser \(sandbox.databasePath)"), "\(submitted)")
                #expect(submitted.standardError.contains("$BERTH_BUSY_TIMEOUT"), "\(submitted)")
                // SQLite's message equals the name of its code here, and is printed once.
                #expect(submitted.standardError.components(separatedBy: "database is locked").count == 2, "\(submitted)")
                #expect(ContinuousClock.now - lockedAt < .seconds(5), "the submission waited \(ContinuousClock.now - lockedAt)")

                try await daemon.waitForLog("heartbeat failed", timeout: .seconds(10))
                #expect(daemon.log.contains("locked by another process"), "daemon log:\n\(daemon.log)")
                #expect(daemon.isRunning)
                // Shorter than the 6 s lease, so that the job keeps it.
                try await Task.sleep(until: lockedAt + .seconds(3))
                let released = try await lock.release()
                #expect(released.status == 0, "\(released)")

                try await waitUntil("job \(running) succeeds", timeout: .seconds(30)) {
                    try sandbox.store.requireJob(id: running).state == .succeeded
                }
                #expect(try sandbox.store.attempts(jobID: running).count == 1, "the job lost its lease during the lock")
                #expect(try sandbox.store.events(jobID: running, limit: 10).compactMap(\.type) == ["before", "after"])
                let again = try await sandbox.berth(["submit", "--hold", "--image", image, "--", "true"])
                #expect(again.status == 0, "\(again)")
                #expect(try await sandbox.sql("PRAGMA integrity_check;").standardOutput == "ok\n")

                daemon.signal(SIGTERM)
                #expect(try await daemon.waitForExit() == .exited(0))
            }
        }

        /// A job ends while another process holds the write lock for 30 s,
        /// longer than the lease and longer than a few retries would last. The
        /// result waits in the daemon and is stored once the lock is released,
        /// instead of being rescued as lost.
        @Test func resultOutlastsALongLock() async throws {
            try await withFaultSandbox { sandbox in
                let image = try await FaultImage.require()
                let sqlite3 = try #require(TestHost.sqlite3)
                let daemon = try sandbox.startDaemon(overrides: ["database": ["busyTimeout": "1s"]])
                try await daemon.waitForLog("daemon started")
                let id = try await submit(sandbox, image: image, ["berth-test-job", "stdout", #"{"type":"before"}"#, "sleep", "2"])
                try await waitUntil("job \(id) stores its first event") {
                    try sandbox.store.events(jobID: id, limit: 10).count == 1
                }

                let lock = try await WriteLockHolder.start(in: sandbox, sqlite3: sqlite3, timeout: .seconds(90))
                let lockedAt = ContinuousClock.now

                try await daemon.waitForLog("could not record the result", timeout: .seconds(15))
                try await Task.sleep(until: lockedAt + .seconds(30))
                #expect(!daemon.log.contains("gave up recording the result"), "daemon log:\n\(daemon.log)")
                let released = try await lock.release()
                #expect(released.status == 0, "\(released)")

                try await waitUntil("job \(id) succeeds", timeout: .seconds(30)) {
                    try sandbox.store.requireJob(id: id).state == .succeeded
                }
                let attempts = try sandbox.store.attempts(jobID: id)
                #expect(attempts.count == 1, "\(attempts)")
                #expect(attempts.first?.outcome == .succeeded, "\(attempts)")

                daemon.signal(SIGTERM)
                #expect(try await daemon.waitForExit() == .exited(0))
            }
        }

        /// A `sqlite3` shell that holds the database's write lock, with a
        /// transaction it opened, until `release()`.
        struct WriteLockHolder {
            let releasePath: String
            let task: Task<CommandResult, any Error>

            /// Starts the shell and returns once it holds the lock.
            static func start(in sandbox: FaultSandbox, sqlite3: String, timeout: Duration) async throws -> WriteLockHolder {
                let release = sandbox.directory.appendingPathComponent("release-lock").path
                let output = sandbox.directory.appendingPathComponent("lock-holder.out").path
                let script = """
                    (echo 'BEGIN IMMEDIATE;'; echo 'UPDATE workers SET heartbeat_at = heartbeat_at;'; echo '.print locked'
                     while [ ! -e '\(release)' ]; do sleep 0.1; done; echo 'COMMIT;') | \(sqlite3) '\(sandbox.databasePath)' > '\(output)' 2>&1
                    """
                let environment = sandbox.environment
                let task = Task { try await SpawnedProcess.run("/bin/sh", ["-c", script], environment: environment, timeout: timeout) }
                try await waitUntil("sqlite3 holds the write lock") {
                    ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("locked")
                }
                return WriteLockHolder(releasePath: release, task: task)
            }

            /// Commits the shell's transaction and returns how the shell ended.
            func release() async throws -> CommandResult {
                guard FileManager.default.createFile(atPath: releasePath, contents: nil) else {
                    throw TestFailure("cannot create \(releasePath) to release the write lock")
                }
                return try await task.value
            }
        }
    }
}

import BerthCore
import BerthStore
import Foundation

/// A `berth daemon` process on its own database and directories, started and
/// stopped by a benchmark, with helpers to submit and wait through the CLI.
final class DaemonHarness {
    let bench: Bench
    let directory: String
    let database: String
    let logFile: String
    let pid: pid_t
    private var stopped = false

    /// Starts a daemon with `concurrency` slots and waits until it logs that it started.
    init(bench: Bench, name: String, concurrency: Int) throws {
        self.bench = bench
        directory = try bench.directory(name)
        database = directory + "/berth.db"
        logFile = directory + "/daemon.log"
        try bench.createDatabase(database)

        let configuration = """
            {
              database: { path: "\(database)" },
              directories: { workspaces: "\(directory)/workspaces", checkpoints: "\(directory)/checkpoints", runtime: "\(directory)/run" },
              engine: { kind: "podman", pullPolicy: "never" },
              workerID: "bench-\(name)",
              concurrency: \(concurrency),
              defaultQueue: { concurrency: \(concurrency), retry: { maxAttempts: 1 } },
            }
            """
        let configurationFile = directory + "/berth.json5"
        try configuration.write(toFile: configurationFile, atomically: false, encoding: .utf8)
        pid = try Subprocess.spawn(
            [bench.berth, "daemon", "--config", configurationFile], standardOutput: logFile, standardError: logFile,
            appendOutput: true)
        try waitForLog("daemon started", timeout: 60)
    }

    deinit {
        stop()
    }

    /// Stops the daemon with SIGTERM (a drain) and reaps it.
    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGTERM)
        Subprocess.wait(pid)
    }

    private func waitForLog(_ text: String, timeout: Double) throws {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while ContinuousClock.now < deadline {
            if Subprocess.readText(logFile).contains(text) { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                stopped = true
                throw BenchError("berth daemon exited during startup; its log \(logFile) says: \(Subprocess.readText(logFile).suffix(2000))")
            }
            pause(seconds: 0.05)
        }
        throw BenchError("berth daemon did not log \"\(text)\" within \(Int(timeout)) s; see \(logFile)")
    }

    /// Resident memory of the daemon in bytes: now and its peak so far.
    func residentMemory() throws -> (current: Double, peak: Double) {
        guard let memory = Machine.residentMemory(pid: pid) else { throw BenchError("cannot read /proc/\(pid)/status") }
        return memory
    }

    /// Submits JSON-lines specs through `berth submit --file` and returns the new ids.
    func submit(specLines: [String]) throws -> [Int64] {
        let file = directory + "/batch.jsonl"
        try (specLines.joined(separator: "\n") + "\n").write(toFile: file, atomically: false, encoding: .utf8)
        let output = try Subprocess.output([bench.berth, "--db", database, "submit", "--file", file])
        return output.split(separator: "\n").compactMap { Int64($0) }
    }

    /// Blocks in `berth wait` until the jobs are finished; fails unless all succeeded.
    func wait(_ ids: [Int64], timeout: String = "30m") throws {
        try Subprocess.timed([bench.berth, "--db", database, "wait", "--timeout", timeout] + ids.map(String.init))
    }

    func store() throws -> JobStore {
        try JobStore(options: DatabaseOptions(path: database))
    }
}

extension Bench {
    /// A spec line for the test image running `command`, with one attempt.
    func specLine(_ command: [String], maxOutputBytes: ByteSize? = nil) -> String {
        var spec = JobSpec(image: image, command: command)
        spec.retry.maxAttempts = 1
        spec.limits.maxOutputBytes = maxOutputBytes
        return spec.encodedJSON()
    }
}

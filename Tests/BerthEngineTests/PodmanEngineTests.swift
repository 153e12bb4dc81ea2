import BerthCore
import Foundation
import Glibc
import Synchronization
import Testing

@testable import BerthEngine

/// The engine against real podman and the busybox test image.
///
/// These tests are skipped only when podman is not installed at all. They run
/// one at a time, because two cores cannot run many containers at once quickly.
@Suite(
    "ContainerEngine on podman", .serialized,
    .enabled(if: PodmanFixture.isAvailable, "podman not found in PATH; install podman to run the container tests"))
struct PodmanEngineTests {
    let engine: ContainerEngine

    init() async throws {
        engine = try PodmanFixture.engine()
        _ = try await PodmanFixture.image()
    }

    /// Creates and starts a container, runs `body`, then removes the container.
    private func withContainer<Result>(
        _ spec: ContainerRunSpec, secrets: [String: String] = [:], start: Bool = true,
        _ body: (String) async throws -> Result
    ) async throws -> Result {
        let id = try await engine.create(spec, secrets: secrets)
        do {
            if start {
                try await engine.start(id)
            }
            let result = try await body(id)
            try await engine.remove(id)
            return result
        } catch {
            try? await engine.remove(id)
            throw error
        }
    }

    /// Collects the whole log of a container, split by stream.
    private func collectLogs(_ id: String, maximumLineBytes: Int = 64 * 1024) async throws -> [OutputLine] {
        let lines = Mutex<[OutputLine]>([])
        try await engine.followLogs(id, timeout: .seconds(60), maximumLineBytes: maximumLineBytes) { line in
            lines.withLock { $0.append(line) }
        }
        return lines.withLock { $0 }
    }

    @Test("version and ping")
    func versionAndPing() async throws {
        let version = try await engine.version()
        #expect(!version.client.isEmpty)
        try await engine.ping()
    }

    @Test("several containers removed with one call")
    func removeSeveral() async throws {
        var ids: [String] = []
        for _ in 0..<3 {
            ids.append(try await engine.create(PodmanFixture.spec(["true"])))
        }
        try await engine.start(ids[0])
        // A container that is already gone is skipped.
        try await engine.remove(ids[2])

        try await engine.remove(ids)
        for id in ids {
            await #expect(throws: ContainerEngineError.noSuchContainer(id)) { try await engine.inspect(id) }
        }
    }

    @Test("lifecycle with exit code")
    func lifecycle() async throws {
        let spec = PodmanFixture.spec(["berth-test-job", "stdout", "hello", "exit", "7"])
        let id = try await engine.create(spec)

        let created = try await engine.inspect(id)
        #expect(created.state.status == "created")
        #expect(created.name == spec.name)
        #expect(created.labels[PodmanFixture.testLabel] == "1")
        #expect(created.image == PodmanFixture.imageName)

        try await engine.start(id)
        let exitCode = try await engine.wait(id, timeout: .seconds(60))
        #expect(exitCode == 7)

        let finished = try await engine.inspect(id)
        #expect(finished.state.status == "exited")
        #expect(!finished.state.isRunning)
        #expect(finished.state.exitCode == 7)
        #expect(!finished.state.isOOMKilled)
        #expect(finished.state.finishedAt != nil)
        #expect(finished.state.startedAt != nil)

        try await engine.remove(id)
        await #expect(throws: ContainerEngineError.noSuchContainer(id)) {
            try await engine.inspect(id)
        }
    }

    @Test("limits read back from inspect")
    func limitsReadBack() async throws {
        var spec = PodmanFixture.spec(["berth-test-job", "capabilities"])
        spec.memory = .mebibytes(96)
        spec.cpus = 0.5
        spec.pidsLimit = 48

        let (inspection, lines) = try await withContainer(spec) { id in
            _ = try await engine.wait(id, timeout: .seconds(60))
            return (try await engine.inspect(id), try await collectLogs(id))
        }

        #expect(inspection.limits.memory == 96 * 1024 * 1024)
        #expect(inspection.limits.memorySwap == 96 * 1024 * 1024)
        #expect(inspection.limits.pidsLimit == 48)
        #expect(inspection.limits.nanoCPUs == 500_000_000)
        #expect(inspection.limits.readOnlyRootFilesystem)
        #expect(inspection.limits.networkMode == "none")
        #expect(inspection.limits.ulimits.contains(ContainerUlimit(.nofile, soft: 1024, hard: 1024)))
        // Podman lists each dropped default capability by name, docker writes ALL.
        let dropped = Set(inspection.limits.capabilitiesDropped)
        #expect(dropped.contains("ALL") || dropped.isSuperset(of: ["CAP_CHOWN", "CAP_SETUID", "CAP_NET_RAW", "CAP_KILL"]))
        #expect(lines.map(\.text) == ["CapEff:\t0000000000000000"])
    }

    @Test("read-only root, tmpfs and workspace")
    func filesystem() async throws {
        let workspace = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: workspace) }
        var spec = PodmanFixture.spec([
            "/bin/sh", "-c", "pwd; touch /tmp/ok && echo tmp-ok; touch /root-file 2>/dev/null || echo root-ro; echo data > made-by-job",
        ])
        spec.workspace = workspace.path

        let lines = try await withContainer(spec) { id in
            #expect(try await engine.wait(id, timeout: .seconds(60)) == 0)
            return try await collectLogs(id)
        }

        #expect(lines.map(\.text) == ["/workspace", "tmp-ok", "root-ro"])
        let made = try String(contentsOf: workspace.appendingPathComponent("made-by-job"), encoding: .utf8)
        #expect(made == "data\n")
    }

    @Test("user is applied")
    func userIsApplied() async throws {
        var spec = PodmanFixture.spec(["/bin/id"])
        spec.user = "4242:4343"

        let lines = try await withContainer(spec) { id in
            _ = try await engine.wait(id, timeout: .seconds(60))
            return try await collectLogs(id)
        }

        #expect(lines.map(\.text) == ["uid=4242(4242) gid=4343(4343) groups=4343(4343)"])
    }

    @Test("memory hog is OOM-killed")
    func memoryHogOOMKilled() async throws {
        var spec = PodmanFixture.spec(["berth-test-job", "memory-hog"])
        spec.memory = .mebibytes(32)

        let (exitCode, inspection) = try await withContainer(spec) { id in
            (try await engine.wait(id, timeout: .seconds(120)), try await engine.inspect(id))
        }

        #expect(exitCode == 137)
        #expect(inspection.state.exitCode == 137)
        #expect(inspection.state.isOOMKilled)
    }

    @Test("pids limit stops a fork bomb")
    func pidsLimit() async throws {
        var spec = PodmanFixture.spec(["berth-test-job", "fork-bomb", "64"])
        spec.pidsLimit = 16

        let (exitCode, lines) = try await withContainer(spec) { id in
            (try await engine.wait(id, timeout: .seconds(60)), try await collectLogs(id))
        }

        #expect(exitCode != 0)
        #expect(lines.contains { $0.stream == .standardError && $0.text.contains("can't fork") })
        #expect(!lines.contains { $0.text == "started 64 processes" })
    }

    @Test("job argument like a flag is literal")
    func flagLikeArgumentsAreLiteral() async throws {
        let arguments = ["--privileged", "--rm", "-t", "--network=host"]
        let spec = PodmanFixture.spec(["berth-test-job", "args"] + arguments)

        let (inspection, lines) = try await withContainer(spec) { id in
            _ = try await engine.wait(id, timeout: .seconds(60))
            return (try await engine.inspect(id), try await collectLogs(id))
        }

        #expect(lines.map(\.text) == arguments)
        #expect(inspection.limits.networkMode == "none")
    }

    @Test("logs keep stdout and stderr apart")
    func logsSeparateStreams() async throws {
        let spec = PodmanFixture.spec([
            "berth-test-job", "events", "3", "0.05", "stderr", "warning one", "invalid-utf8", "long-line", "5000",
            "stderr", "warning two", "no-newline", "tail",
        ])

        let lines = try await withContainer(spec) { id in
            let lines = try await collectLogs(id, maximumLineBytes: 1000)
            #expect(try await engine.wait(id, timeout: .seconds(60)) == 0)
            return lines
        }

        let standardOutput = lines.filter { $0.stream == .standardOutput }
        let standardError = lines.filter { $0.stream == .standardError }
        #expect(standardOutput.prefix(3).map(\.text) == [
            #"{"event":"tick","n":1}"#, #"{"event":"tick","n":2}"#, #"{"event":"tick","n":3}"#,
        ])
        #expect(standardOutput.count == 6)
        #expect(standardOutput[safe: 3]?.line.containsInvalidUTF8 == true)
        #expect(standardOutput[safe: 3]?.text == "bad \u{FFFD}\u{FFFD} bytes")
        #expect(standardOutput[safe: 4]?.line.isTruncated == true)
        #expect(standardOutput[safe: 4]?.text.utf8.count == 1000)
        #expect(standardOutput[safe: 5]?.text == "tail")
        #expect(standardOutput[safe: 5]?.line.isUnterminated == true)
        #expect(standardError.map(\.text) == ["warning one", "warning two"])
    }

    @Test("logs as a stream")
    func logsAsStream() async throws {
        let spec = PodmanFixture.spec(["berth-test-job", "events", "5", "0.1"])

        let texts = try await withContainer(spec) { id in
            var texts: [String] = []
            for try await line in engine.logLines(id, timeout: .seconds(60)) {
                texts.append(line.text)
            }
            return texts
        }

        #expect(texts.count == 5)
        #expect(texts.last == #"{"event":"tick","n":5}"#)
    }

    @Test("closed stdout keeps the job running")
    func closedStandardOutput() async throws {
        let spec = PodmanFixture.spec([
            "berth-test-job", "stdout", "before", "close-stdout", "sleep", "0.3", "stderr", "still running", "exit", "3",
        ])

        let (exitCode, lines) = try await withContainer(spec) { id in
            let lines = try await collectLogs(id)
            return (try await engine.wait(id, timeout: .seconds(60)), lines)
        }

        #expect(exitCode == 3)
        #expect(lines.filter { $0.stream == .standardOutput }.map(\.text) == ["before"])
        #expect(lines.filter { $0.stream == .standardError }.map(\.text) == ["still running"])
    }

    @Test("secret reaches the container")
    func secretReachesContainer() async throws {
        let spec = PodmanFixture.spec(["berth-test-job", "print-env", "API_TOKEN", "print-env", "CONTAINERS_CONF"])

        let lines = try await withContainer(spec, secrets: ["API_TOKEN": "s3cret-value"]) { id in
            _ = try await engine.wait(id, timeout: .seconds(60))
            return try await collectLogs(id)
        }

        // Only the named secret passes from the engine's environment into the container.
        #expect(lines.map(\.text) == ["API_TOKEN=s3cret-value", "CONTAINERS_CONF unset"])
    }

    @Test("stop escalates when SIGTERM is ignored")
    func stopEscalates() async throws {
        let spec = PodmanFixture.spec(["berth-test-job", "ignore-term", "stdout", "ready", "sleep", "300"])

        let (exitCode, elapsed) = try await withContainer(spec) { id in
            for try await line in engine.logLines(id, timeout: .seconds(30)) where line.text == "ready" {
                break
            }
            let started = ContinuousClock.now
            try await engine.stop(id, gracePeriod: .seconds(1))
            let elapsed = ContinuousClock.now - started
            return (try await engine.wait(id, timeout: .seconds(30)), elapsed)
        }

        #expect(exitCode == 137)
        #expect(elapsed >= .seconds(1))
        #expect(elapsed < .seconds(20))
    }

    @Test("kill ends a running container")
    func killRunning() async throws {
        let spec = PodmanFixture.spec(["berth-test-job", "sleep", "300"])

        let (running, exitCode) = try await withContainer(spec) { id in
            let running = try await engine.inspect(id).state.isRunning
            try await engine.kill(id)
            return (running, try await engine.wait(id, timeout: .seconds(30)))
        }

        #expect(running)
        #expect(exitCode == 137)
    }

    @Test("list by label")
    func listByLabel() async throws {
        let runLabel = UUID().uuidString.lowercased()
        var first = PodmanFixture.spec(["berth-test-job"])
        first.labels["io.berth.run"] = runLabel
        var second = PodmanFixture.spec(["berth-test-job"])
        second.labels["io.berth.run"] = runLabel

        let firstID = try await engine.create(first)
        let secondID = try await engine.create(second)
        let listed = try await engine.list(labels: ["io.berth.run": runLabel, PodmanFixture.testLabel: "1"])
        try await engine.remove(firstID)
        try await engine.remove(secondID)
        let afterRemoval = try await engine.list(labels: ["io.berth.run": runLabel])

        #expect(Set(listed.map(\.id)) == [firstID, secondID])
        #expect(Set(listed.map(\.name)) == [first.name, second.name])
        #expect(afterRemoval.isEmpty)
    }

    @Test("wait timeout leaves the container running")
    func waitTimeout() async throws {
        let spec = PodmanFixture.spec(["berth-test-job", "sleep", "300"])

        let running = try await withContainer(spec) { id in
            await #expect(throws: ContainerEngineError.timedOut(operation: "wait", timeout: .milliseconds(500))) {
                try await engine.wait(id, timeout: .milliseconds(500))
            }
            return try await engine.inspect(id).state.isRunning
        }

        #expect(running)
    }

    /// Runs `spec` with `run --detach`, its log in a file of a new directory
    /// that is also conmon's working directory, and removes it after `body`.
    private func withDetachedRun<Result>(
        _ spec: ContainerRunSpec, _ body: (_ id: String, _ directory: URL) async throws -> Result
    ) async throws -> Result {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var spec = spec
        spec.logFile = directory.appendingPathComponent("output.log").path
        let id = try await engine.run(spec, workingDirectory: directory.path)
        do {
            let result = try await body(id, directory)
            try await engine.remove(id)
            return result
        } catch {
            try? await engine.remove(id)
            throw error
        }
    }

    @Test("detached run writes its log file")
    func detachedRunLogFile() async throws {
        let spec = PodmanFixture.spec([
            "berth-test-job", "events", "3", "0.05", "stderr", "warning one", "invalid-utf8", "long-line", "20000",
            "no-newline", "tail",
        ])

        let (fileLines, engineLines, exitCode) = try await withDetachedRun(spec) { id, directory in
            let file = ContainerLogFile(path: directory.appendingPathComponent("output.log").path, maximumLineBytes: 1000)
            let lines = Mutex<[OutputLine]>([])
            let reader = Task { try await file.follow { line in lines.withLock { $0.append(line) } } }
            let exitCode = try await engine.wait(id, timeout: .seconds(60), pollInterval: .milliseconds(10))
            file.containerExited()
            try await reader.value
            return (lines.withLock { $0 }, try await collectLogs(id, maximumLineBytes: 1000), exitCode)
        }

        // The file reader returns what `podman logs` returns, line for line in
        // each stream. Across streams the order of `podman logs` is not kept,
        // because its two pipes are read by two threads.
        #expect(exitCode == 0)
        for stream in [StandardStream.standardOutput, .standardError] {
            #expect(fileLines.filter { $0.stream == stream }.map(\.line) == engineLines.filter { $0.stream == stream }.map(\.line))
        }
        #expect(fileLines.count == 7)
        #expect(fileLines.map(\.text).prefix(3) == [#"{"event":"tick","n":1}"#, #"{"event":"tick","n":2}"#, #"{"event":"tick","n":3}"#])
        #expect(fileLines.filter { $0.line.isTruncated }.map(\.text.utf8.count) == [1000])
        #expect(fileLines.last?.text == "tail")
    }

    @Test("detached run leaves the OOM marker in its directory")
    func detachedRunOOMMarker() async throws {
        var spec = PodmanFixture.spec(["berth-test-job", "memory-hog"])
        spec.memory = .mebibytes(32)

        let (exitCode, markerExists) = try await withDetachedRun(spec) { id, directory in
            let exitCode = try await engine.wait(id, timeout: .seconds(120))
            return (exitCode, FileManager.default.fileExists(atPath: directory.appendingPathComponent("oom").path))
        }

        #expect(exitCode == 137)
        #expect(markerExists)
    }

    @Test("detached run of a missing image fails")
    func detachedRunMissingImage() async throws {
        var spec = PodmanFixture.spec(["true"])
        spec.image = "localhost/berth-no-such-image:latest"

        await #expect(throws: ContainerEngineError.self) {
            _ = try await engine.run(spec)
        }
        try? await engine.remove(spec.name)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? {
        indices.contains(index) ? self[index] : nil
    }
}

import Foundation
import Glibc
import Testing

@testable import BerthEngine

@Suite("Conmon's arguments")
struct ConmonArgumentTests {
    static let containerID = String(repeating: "ab", count: 32)

    @Test("podman's form gives the exit directory")
    func podmanForm() {
        let arguments = [
            "/usr/bin/conmon", "--api-version", "1", "-c", Self.containerID, "-u", Self.containerID,
            "-r", "/usr/bin/runc", "--exit-dir", "/run/libpod/exits", "--log-level", "warning",
        ]
        #expect(ConmonExitWatch.conmonExitDirectory(arguments: arguments, containerID: Self.containerID) == "/run/libpod/exits")
    }

    @Test("the long forms with = give the exit directory")
    func equalsForm() {
        let arguments = ["conmon", "--cid=\(Self.containerID)", "--exit-dir=/tmp/exits"]
        #expect(ConmonExitWatch.conmonExitDirectory(arguments: arguments, containerID: Self.containerID) == "/tmp/exits")
    }

    @Test(
        "arguments of another process are rejected",
        arguments: [
            ["/usr/bin/conmon", "-c", String(repeating: "cd", count: 32), "--exit-dir", "/run/libpod/exits"],
            ["/usr/bin/sleep", "-c", ConmonArgumentTests.containerID, "--exit-dir", "/run/libpod/exits"],
            ["/usr/bin/conmon", "-c", ConmonArgumentTests.containerID],
            ["/usr/bin/conmon", "-c", ConmonArgumentTests.containerID, "--exit-dir", "relative/exits"],
            ["/usr/bin/conmon", "--exit-dir", "/run/libpod/exits", "-c"],
            [],
        ])
    func rejected(arguments: [String]) {
        #expect(ConmonExitWatch.conmonExitDirectory(arguments: arguments, containerID: Self.containerID) == nil)
    }
}

/// The watch against real podman containers started with `run --detach`.
@Suite(
    "ConmonExitWatch on podman", .serialized,
    .enabled(if: PodmanFixture.isAvailable, "podman not found in PATH; install podman to run the container tests"))
struct ConmonExitWatchTests {
    let engine: ContainerEngine
    let directory: URL

    init() async throws {
        engine = try PodmanFixture.engine()
        _ = try await PodmanFixture.image()
        directory = try makeTemporaryDirectory()
    }

    var pidFile: String { directory.appendingPathComponent("conmon.pid").path }

    /// Runs `command` detached with a conmon pid file, runs `body`, then removes the container.
    private func withDetachedContainer(_ command: [String], _ body: (String) async throws -> Void) async throws {
        var spec = PodmanFixture.spec(command)
        spec.conmonPIDFile = pidFile
        let id = try await engine.run(spec, workingDirectory: directory.path)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try await body(id)
            try await engine.remove(id)
        } catch {
            try? await engine.remove(id)
            throw error
        }
    }

    /// Returns the host pid of the container's first process.
    private func containerPID(_ id: String) async throws -> pid_t? {
        let command = ProcessCommand(
            executable: engine.executablePath, arguments: ["inspect", "--format={{.State.Pid}}", id],
            environment: try PodmanFixture.environment().variables)
        let result = try await ChildProcess.run(command, timeout: .seconds(60))
        return pid_t(result.standardOutput.text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("a container that runs for a while reports its exit code")
    func exitCodeAfterRunning() async throws {
        try await withDetachedContainer(["sh", "-c", "sleep 1; exit 7"]) { id in
            let watch = try #require(ConmonExitWatch.open(pidFile: pidFile, containerID: id))
            let exit = await watch.wait()
            #expect(exit == .exited(7))
            // The engine agrees once it has caught up.
            #expect(try await engine.wait(id, timeout: .seconds(30)) == 7)
        }
    }

    @Test("a container that exits at once reports its exit code")
    func exitCodeAtOnce() async throws {
        try await withDetachedContainer(["sh", "-c", "exit 3"]) { id in
            // Podman's cleanup may have deleted the exit file already, or
            // conmon may be gone; then the caller asks the engine.
            if let watch = ConmonExitWatch.open(pidFile: pidFile, containerID: id) {
                let exit = await watch.wait()
                #expect(exit == .exited(3) || exit == .unknown)
            }
            let code = try await engine.wait(id, timeout: .seconds(30))
            #expect(code == 3)
        }
    }

    @Test("a container killed by a signal reports 128 plus the signal")
    func killedContainer() async throws {
        try await withDetachedContainer(["sleep", "60"]) { id in
            let watch = try #require(ConmonExitWatch.open(pidFile: pidFile, containerID: id))
            // Killed from the host rather than by `podman kill`, whose own
            // process may read and delete the exit file first.
            let pid = try #require(try await containerPID(id))
            #expect(Glibc.kill(pid, SIGKILL) == 0)
            let exit = await watch.wait()
            #expect(exit == .exited(137))
        }
    }

    @Test("podman kill: file or fallback")
    func endedByPodman() async throws {
        try await withDetachedContainer(["sleep", "60"]) { id in
            let watch = try #require(ConmonExitWatch.open(pidFile: pidFile, containerID: id))
            try await engine.kill(id, signal: SIGKILL)
            let exit = await watch.wait()
            #expect(exit == .exited(137) || exit == .unknown)
            #expect(try await engine.wait(id, timeout: .seconds(30)) == 137)
        }
    }

    @Test("cancelling the waiting task ends the wait while the container runs")
    func cancellation() async throws {
        try await withDetachedContainer(["sleep", "60"]) { id in
            let watch = try #require(ConmonExitWatch.open(pidFile: pidFile, containerID: id))
            let waiting = Task { await watch.wait() }
            try await Task.sleep(for: .milliseconds(200))
            let cancelledAt = ContinuousClock.now
            waiting.cancel()
            #expect(await waiting.value == .cancelled)
            #expect(ContinuousClock.now - cancelledAt < .seconds(5))
            #expect(try await engine.inspect(id).state.isRunning)
        }
    }

    @Test("a pid file of another process or a missing one opens no watch")
    func notConmon() async throws {
        try await withDetachedContainer(["sleep", "60"]) { id in
            #expect(ConmonExitWatch.open(pidFile: pidFile, containerID: String(repeating: "0", count: 64)) == nil)

            let ownPID = directory.appendingPathComponent("own.pid").path
            try "\(getpid())\n".write(toFile: ownPID, atomically: true, encoding: .utf8)
            #expect(ConmonExitWatch.open(pidFile: ownPID, containerID: id) == nil)
            #expect(ConmonExitWatch.open(pidFile: directory.appendingPathComponent("missing.pid").path, containerID: id) == nil)
        }
    }
}

import Foundation
import Glibc
import Testing

@testable import BerthEngine

/// Engine calls against stub scripts in place of podman, so they run without an engine.
@Suite("ContainerEngine with a stub engine")
struct ContainerEngineTests {
    /// Creates an engine whose tool is a shell script named podman with `body`.
    private func stubEngine(
        _ body: String, commandTimeout: Duration = .seconds(10), killGracePeriod: Duration = .seconds(1)
    ) throws -> (engine: ContainerEngine, directory: URL) {
        let directory = try makeTemporaryDirectory()
        let path = try writeScript(named: "podman", in: directory, body)
        let engine = try ContainerEngine(
            configuration: ContainerEngineConfiguration(
                selection: .podman, executable: path,
                environment: EngineEnvironment(home: "/root", passthrough: ["CONTAINERS_CONF": "/etc/berth-test.conf"]),
                commandTimeout: commandTimeout, killGracePeriod: killGracePeriod))
        return (engine, directory)
    }

    @Test("remote podman is recognised")
    func remotePodman() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let podman = try writeScript(named: "podman", in: directory, "exit 0")
        let podmanRemote = try writeScript(named: "podman-remote", in: directory, "exit 0")
        let docker = try writeScript(named: "docker", in: directory, "exit 0")

        func engine(_ selection: EngineSelection, _ executable: String, _ passthrough: [String: String]) throws -> ContainerEngine {
            try ContainerEngine(configuration: ContainerEngineConfiguration(
                selection: selection, executable: executable, environment: EngineEnvironment(home: "/root", passthrough: passthrough)))
        }

        #expect(try !engine(.podman, podman, [:]).isRemotePodman)
        #expect(try engine(.podman, podman, ["CONTAINER_HOST": "unix:///run/podman/podman.sock"]).isRemotePodman)
        #expect(try engine(.podman, podman, ["CONTAINER_CONNECTION": "service"]).isRemotePodman)
        #expect(try engine(.podman, podmanRemote, [:]).isRemotePodman)
        #expect(try !engine(.docker, docker, ["CONTAINER_HOST": "unix:///run/podman/podman.sock"]).isRemotePodman)
    }

    @Test("missing engine binary is unavailable")
    func missingEngine() throws {
        let environment = try EngineEnvironment(path: "/nonexistent/bin", home: "/root")
        for selection in [EngineSelection.automatic, .podman, .docker] {
            #expect {
                try ContainerEngine(configuration: ContainerEngineConfiguration(selection: selection, environment: environment))
            } throws: { error in
                guard case ContainerEngineError.engineUnavailable = error else { return false }
                return true
            }
        }
    }

    @Test("explicit missing executable is unavailable")
    func missingExplicitExecutable() throws {
        let configuration = ContainerEngineConfiguration(
            selection: .docker, executable: "/nonexistent/docker", environment: try EngineEnvironment(home: "/root"))
        #expect {
            try ContainerEngine(configuration: configuration)
        } throws: { error in
            guard case ContainerEngineError.engineUnavailable(let executable, _) = error else { return false }
            return executable == "/nonexistent/docker"
        }
    }

    @Test("executable removed after setup is unavailable")
    func executableRemovedLater() async throws {
        let (engine, directory) = try stubEngine("echo '{\"Client\":{\"Version\":\"9\"}}'")
        try FileManager.default.removeItem(at: directory)

        await #expect {
            try await engine.version()
        } throws: { error in
            guard case ContainerEngineError.engineUnavailable = error else { return false }
            return true
        }
    }

    @Test("hanging engine call is killed at its timeout")
    func hangingCallTimesOut() async throws {
        // The stub waits on a child, so only a signal to the whole group ends both.
        let (engine, directory) = try stubEngine(
            "echo $$ > \"$(dirname \"$0\")/pid\"; sleep 300 & echo $! > \"$(dirname \"$0\")/child\"; wait",
            commandTimeout: .milliseconds(500), killGracePeriod: .milliseconds(500))
        defer { try? FileManager.default.removeItem(at: directory) }

        let started = ContinuousClock.now
        await #expect(throws: ContainerEngineError.timedOut(operation: "version", timeout: .milliseconds(500))) {
            try await engine.version()
        }
        let elapsed = ContinuousClock.now - started
        // Far below the 300 s the script would sleep; generous because other
        // tests may hold both threads of a two-core machine's pool for a while.
        #expect(elapsed < .seconds(60))

        let child = try String(contentsOf: directory.appendingPathComponent("child"), encoding: .utf8)
        let childPid = try #require(pid_t(child.trimmingCharacters(in: .whitespacesAndNewlines)))
        for _ in 0..<100 where isAlive(childPid) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!isAlive(childPid))
    }

    @Test("failed call carries its stderr")
    func failedCallCarriesStandardError() async throws {
        let (engine, directory) = try stubEngine("echo 'Error: storage is broken' >&2; exit 125")
        defer { try? FileManager.default.removeItem(at: directory) }

        await #expect(
            throws: ContainerEngineError.failed(
                operation: "inspect", status: .exited(125), standardError: "Error: storage is broken")
        ) {
            try await engine.inspect("job-1")
        }
    }

    @Test("no such container is recognised")
    func noSuchContainer() async throws {
        let message = "Error: no container with name or ID \\\"job-1\\\" found: no such container"
        let (engine, directory) = try stubEngine("echo \"\(message)\" >&2; exit 125")
        defer { try? FileManager.default.removeItem(at: directory) }

        await #expect(throws: ContainerEngineError.noSuchContainer("job-1")) {
            try await engine.inspect("job-1")
        }
        await #expect(throws: ContainerEngineError.noSuchContainer("job-1")) {
            try await engine.remove("job-1")
        }
    }

    @Test("engine child gets only the configured environment")
    func cleanEnvironment() async throws {
        let (engine, directory) = try stubEngine("env")
        defer { try? FileManager.default.removeItem(at: directory) }

        // The test process has many more variables, none of which may reach the engine.
        let result = try await engine.execute("env", [])
        let variables = Set(result.standardOutput.text.split(separator: "\n").map(String.init))

        // The shell adds PWD, and some shells SHLVL, on their own.
        let own = variables.filter { !$0.hasPrefix("PWD=") && !$0.hasPrefix("SHLVL=") && !$0.hasPrefix("_=") }
        #expect(own == [
            "PATH=\(EngineEnvironment.defaultPath)", "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
            "CONTAINERS_CONF=/etc/berth-test.conf",
        ])
    }

    @Test("secret values stay out of the argv")
    func secretsOnlyInEnvironment() async throws {
        let (engine, directory) = try stubEngine(
            """
            here=$(dirname "$0")
            printf '%s\\n' "$@" > "$here/arguments"
            printf '%s' "$API_TOKEN" > "$here/token"
            echo 0123456789abcdef0123
            """)
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = ContainerRunSpec(name: "job-1", image: "localhost/app:1", command: ["run"])

        let id = try await engine.create(spec, secrets: ["API_TOKEN": "s3cret-value"])

        let arguments = try String(contentsOf: directory.appendingPathComponent("arguments"), encoding: .utf8)
        let token = try String(contentsOf: directory.appendingPathComponent("token"), encoding: .utf8)
        #expect(id == "0123456789abcdef0123")
        #expect(token == "s3cret-value")
        #expect(arguments.split(separator: "\n").contains("--env=API_TOKEN"))
        #expect(!arguments.contains("s3cret-value"))
    }

    @Test("secret may not shadow an engine variable")
    func secretShadowingEngineVariable() async throws {
        let (engine, directory) = try stubEngine("exit 0")
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = ContainerRunSpec(name: "job-1", image: "localhost/app:1", command: ["run"])

        for name in ["PATH", "CONTAINERS_CONF"] {
            await #expect(throws: ContainerEngineError.self, "\(name) was accepted") {
                try await engine.create(spec, secrets: [name: "x"])
            }
        }
        await #expect(
            throws: ContainerEngineError.invalidValue(field: "value of secret TOKEN", value: "", reason: "contains a NUL byte")
        ) {
            try await engine.create(spec, secrets: ["TOKEN": "a\u{0}b"])
        }
    }

    @Test("invalid container reference is rejected before any call")
    func invalidReference() async throws {
        let (engine, directory) = try stubEngine("touch \"$(dirname \"$0\")/called\"")
        defer { try? FileManager.default.removeItem(at: directory) }

        await #expect(throws: ContainerEngineError.self) { try await engine.inspect("--all") }
        await #expect(throws: ContainerEngineError.self) { try await engine.remove("-f") }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("called").path))
    }
}

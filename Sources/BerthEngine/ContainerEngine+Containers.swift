import Foundation
import Glibc

/// The versions the engine reports.
public struct EngineVersion: Hashable, Sendable {
    public var client: String
    /// The daemon's version, or nil for podman without a remote service.
    public var server: String?
}

/// One container found by `list(labels:)`.
public struct ContainerSummary: Hashable, Sendable {
    public var id: String
    public var name: String
}

extension ContainerEngine {
    /// Returns the client and server versions.
    public func version() async throws -> EngineVersion {
        let result = try await execute("version", ["version", "--format={{json .}}"])
        struct Versions: Decodable {
            struct Part: Decodable { var Version: String }
            var Client: Part
            var Server: Part?
        }
        guard let versions = try? JSONDecoder().decode(Versions.self, from: Data(result.standardOutput.bytes)) else {
            throw ContainerEngineError.unexpectedOutput(operation: "version", detail: result.standardOutput.text)
        }
        return EngineVersion(client: versions.Client.Version, server: versions.Server?.Version)
    }

    /// Checks that the engine works: its storage and runtime for podman, its daemon for docker.
    public func ping() async throws {
        let format = kind == .podman ? "--format={{.Host.OCIRuntime.Name}}" : "--format={{.ServerVersion}}"
        let result = try await execute("info", ["info", format])

        // A runtime name such as runc, or a version such as 28.2.2. An engine
        // that exits 0 with anything else is not working either.
        let answer = result.standardOutput.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let isToken = !answer.isEmpty && answer.count <= 64
            && answer.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._+-".unicodeScalars.contains($0)) }
        guard isToken else {
            throw ContainerEngineError.unexpectedOutput(operation: "info", detail: "expected a runtime name or version, got \"\(answer.prefix(60))\"")
        }
    }

    /// Creates a container from `spec` and returns its id.
    ///
    /// Each secret is passed as `--env NAME` with its value only in the
    /// environment of this one engine command, so no value appears in an argv
    /// that `ps` shows. The engine still stores the values in the container's
    /// configuration, where `inspect` shows them to anyone allowed to run the engine.
    public func create(_ spec: ContainerRunSpec, secrets: [String: String] = [:]) async throws -> String {
        try checkSecrets(secrets)
        let arguments = try spec.createArguments(secretNames: Array(secrets.keys))
        let result = try await execute("create", arguments, secrets: secrets)
        return try containerID(in: result, operation: "create")
    }

    /// Creates and starts a container from `spec` in one engine command, and returns its id.
    ///
    /// Secrets are passed as for `create`. The engine's conmon inherits
    /// `workingDirectory`, and conmon 2.1 writes its OOM marker, an empty file
    /// named `oom`, to its working directory when the kernel's OOM killer
    /// ends a process of the container. When the call fails, a container of
    /// the spec's name may exist, created but not started.
    public func run(_ spec: ContainerRunSpec, secrets: [String: String] = [:], workingDirectory: String = "/") async throws -> String {
        try checkSecrets(secrets)
        let arguments = try spec.runArguments(secretNames: Array(secrets.keys))
        let result = try await execute("run", arguments, secrets: secrets, workingDirectory: workingDirectory)
        return try containerID(in: result, operation: "run")
    }

    private func checkSecrets(_ secrets: [String: String]) throws(ContainerEngineError) {
        let reserved = configuration.environment.variables
        for (name, value) in secrets.sorted(by: { $0.key < $1.key }) {
            guard reserved[name] == nil else {
                throw ContainerEngineError.invalidValue(
                    field: "secret name", value: name, reason: "the engine's own environment uses this name")
            }
            guard !value.utf8.contains(0) else {
                throw ContainerEngineError.invalidValue(field: "value of secret \(name)", value: "", reason: "contains a NUL byte")
            }
        }
    }

    /// Returns the container id that `create` or `run --detach` printed last.
    private func containerID(in result: ProcessResult, operation: String) throws(ContainerEngineError) -> String {
        let id = result.standardOutput.text.split(separator: "\n").last.map(String.init) ?? ""
        guard id.count >= 12, id.allSatisfy(\.isHexDigit) else {
            throw ContainerEngineError.unexpectedOutput(operation: operation, detail: "expected a container id, got \"\(id)\"")
        }
        return id
    }

    /// Starts a created container.
    public func start(_ container: String) async throws {
        try checkContainerReference(container)

        // Podman 4.3 looks for conmon's OOM marker in the container's static
        // directory, but conmon 2.1.6 writes it to its working directory, which
        // it inherits from this call. Starting from that directory makes
        // OOMKilled work there, and does no harm where podman looks elsewhere.
        var workingDirectory = "/"
        if kind == .podman, let directory = try await inspect(container).staticDirectory,
            FileManager.default.fileExists(atPath: directory)
        {
            workingDirectory = directory
        }
        _ = try await execute("start", ["start", container], workingDirectory: workingDirectory, container: container)
    }

    /// Waits at most `timeout` for the container to exit and returns its exit code.
    ///
    /// When the timeout expires, the engine command is killed and the container
    /// keeps running. `pollInterval` sets podman's `--interval`, how often
    /// podman checks the container's state, which is 250 ms by default in
    /// podman 4.3. Docker has no such setting, so it is not passed to docker.
    public func wait(_ container: String, timeout: Duration, pollInterval: Duration? = nil) async throws -> Int32 {
        try checkContainerReference(container)
        var arguments = ["wait"]
        if kind == .podman, let pollInterval {
            let milliseconds = max(1, pollInterval.components.seconds * 1000 + pollInterval.components.attoseconds / 1_000_000_000_000_000)
            arguments.append("--interval=\(milliseconds)ms")
        }
        arguments.append(container)
        let result = try await execute("wait", arguments, timeout: timeout, container: container)
        let text = result.standardOutput.text.split(separator: "\n").last.map(String.init) ?? ""
        guard let code = Int32(text.trimmingCharacters(in: .whitespaces)) else {
            throw ContainerEngineError.unexpectedOutput(operation: "wait", detail: "expected an exit code, got \"\(text)\"")
        }
        return code
    }

    /// Returns the container's state and the limits the engine applied.
    public func inspect(_ container: String) async throws -> ContainerInspection {
        try checkContainerReference(container)
        let result = try await execute("inspect", ["container", "inspect", container], container: container)
        return try ContainerInspection.decode(Data(result.standardOutput.bytes))
    }

    /// Stops the container: SIGTERM, then SIGKILL after `gracePeriod`, rounded up to whole seconds.
    ///
    /// A stop outlives a daemon that exits during the grace period, because
    /// podman writes no warning before its kill (see `globalArguments`).
    public func stop(_ container: String, gracePeriod: Duration) async throws {
        try checkContainerReference(container)
        let components = gracePeriod.components
        let graceSeconds = max(components.seconds + (components.attoseconds > 0 ? 1 : 0), 0)
        _ = try await execute(
            "stop", ["stop", "--time=\(graceSeconds)", container],
            timeout: .seconds(graceSeconds) + configuration.commandTimeout, container: container)
    }

    /// Sends `signal` to the container's main process.
    public func kill(_ container: String, signal: Int32 = SIGKILL) async throws {
        try checkContainerReference(container)
        _ = try await execute("kill", ["kill", "--signal=\(signal)", container], container: container)
    }

    /// Removes the container, killing it first if it runs, with its anonymous volumes.
    public func remove(_ container: String) async throws {
        try checkContainerReference(container)
        _ = try await execute("rm", ["rm", "--force", "--volumes", container], container: container)
    }

    /// Removes several containers, with one engine command when all of them exist.
    ///
    /// The engine prints each container it removed. Podman 4.3 removes none
    /// of them and still exits 0 when one of the containers no longer exists,
    /// and docker removes the others but fails. So every container that the
    /// engine did not print is removed on its own afterwards, where a missing
    /// one is no error.
    public func remove(_ containers: [String]) async throws {
        for container in containers {
            try checkContainerReference(container)
        }
        var removed = Set<String>()
        if containers.count > 1 {
            do {
                let result = try await execute("rm", ["rm", "--force", "--volumes"] + containers)
                removed = Set(result.standardOutput.text.split(separator: "\n").map(String.init))
            } catch ContainerEngineError.failed {
                // Removed one at a time below.
            }
        }
        for container in containers where !removed.contains(container) {
            do {
                try await remove(container)
            } catch ContainerEngineError.noSuchContainer {
                continue
            }
        }
    }

    /// Lists all containers, running or not, that carry every one of `labels`.
    public func list(labels: [String: String]) async throws -> [ContainerSummary] {
        var arguments = ["ps", "--all", "--no-trunc"]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            guard ArgumentValidation.isLabelKey(key), !ArgumentValidation.containsControlCharacter(value) else {
                throw ContainerEngineError.invalidValue(
                    field: "label filter", value: key, reason: "use a valid label key and a value without control characters")
            }
            arguments.append("--filter=label=\(key)=\(value)")
        }
        arguments.append("--format={{.ID}}\t{{.Names}}")

        let result = try await execute("ps", arguments)
        return result.standardOutput.text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty else { return nil }
            return ContainerSummary(id: String(fields[0]), name: String(fields[1]))
        }
    }
}

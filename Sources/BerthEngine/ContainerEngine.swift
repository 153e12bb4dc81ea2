import Foundation
import Glibc

/// The docker-compatible command-line tools berth can drive.
public enum ContainerEngineKind: String, Hashable, Sendable, CaseIterable {
    case podman
    case docker

    /// The name of the tool looked up in `PATH`.
    public var executableName: String { rawValue }
}

/// The engine to use: a named one, or the first of podman and docker found in `PATH`.
public enum EngineSelection: String, Hashable, Sendable {
    case automatic = "auto"
    case podman
    case docker
}

/// Settings for running the engine's command-line tool.
public struct ContainerEngineConfiguration: Hashable, Sendable {
    public var selection: EngineSelection
    /// The tool's path, or nil to look up the selected engine's name in the environment's `PATH`.
    public var executable: String?
    public var environment: EngineEnvironment
    /// The timeout of every engine command that is not given one of its own.
    public var commandTimeout: Duration
    /// The time between SIGTERM and SIGKILL when an engine command is killed at its timeout.
    public var killGracePeriod: Duration
    /// The bytes kept from each output stream of an engine command.
    public var outputLimit: Int

    public init(
        selection: EngineSelection = .automatic, executable: String? = nil, environment: EngineEnvironment,
        commandTimeout: Duration = .seconds(60), killGracePeriod: Duration = .seconds(5),
        outputLimit: Int = 4 << 20
    ) {
        self.selection = selection
        self.executable = executable
        self.environment = environment
        self.commandTimeout = commandTimeout
        self.killGracePeriod = killGracePeriod
        self.outputLimit = outputLimit
    }
}

/// A container engine driven through its command-line tool, `podman` or `docker`.
///
/// Each call starts the tool as a child process with a clean environment and a
/// timeout, and kills its whole process group when the timeout expires. Calls
/// throw `ContainerEngineError`, or `CancellationError` when the task is
/// cancelled, after the tool has been killed.
///
/// NOTE: The tests run every call against podman 4.3. The docker forms follow
/// docker's documented command line but have not been run against docker.
public struct ContainerEngine: Sendable {
    public let kind: ContainerEngineKind
    /// The resolved path of the tool.
    public let executablePath: String
    public let configuration: ContainerEngineConfiguration

    /// Whether podman connects to a podman service instead of running containers
    /// itself: `CONTAINER_HOST` or `CONTAINER_CONNECTION` is set, or the tool
    /// is `podman-remote`. Conmon then runs under the service, with the
    /// service's working directory and user, so files it writes may not be
    /// readable by the caller.
    public var isRemotePodman: Bool {
        let variables = configuration.environment.variables
        return kind == .podman
            && (variables["CONTAINER_HOST"] != nil || variables["CONTAINER_CONNECTION"] != nil
                || executablePath.hasSuffix("/podman-remote"))
    }

    /// The maximum number of characters of an engine's stderr kept in a `failed` error.
    static let errorMessageLimit = 2000

    /// Selects the engine and finds its tool, throwing `engineUnavailable` when there is none.
    public init(configuration: ContainerEngineConfiguration) throws(ContainerEngineError) {
        let environment = configuration.environment.variables
        let kinds: [ContainerEngineKind]
        switch configuration.selection {
        case .automatic:
            guard configuration.executable == nil else {
                throw .invalidValue(
                    field: "engine executable", value: configuration.executable ?? "",
                    reason: "an explicit executable needs the engine named as podman or docker, not auto")
            }
            kinds = [.podman, .docker]
        case .podman:
            kinds = [.podman]
        case .docker:
            kinds = [.docker]
        }

        var reasons: [String] = []
        for kind in kinds {
            let command = ProcessCommand(executable: configuration.executable ?? kind.executableName, environment: environment)
            do {
                executablePath = try command.resolvedExecutablePath()
                self.kind = kind
                self.configuration = configuration
                return
            } catch {
                reasons.append(error.description)
            }
        }
        throw .engineUnavailable(
            executable: configuration.executable ?? kinds.map(\.executableName).joined(separator: " or "),
            reason: reasons.joined(separator: "; "))
    }

    /// Flags placed before every command's own.
    ///
    /// Podman runs with `--log-level=error`, so it writes no warnings while it
    /// works. A command still running when the daemon exits writes to a pipe
    /// without a reader, and podman dies of SIGPIPE at its first write. A
    /// warning written midway, such as `stop`'s notice that it resorts to
    /// SIGKILL, would end podman before its work is done: the container then
    /// stays `stopping` with its process running. Errors are still written.
    var globalArguments: [String] {
        kind == .podman ? ["--log-level=error"] : []
    }

    /// Runs the tool with `arguments` and returns its result when it exits with status 0.
    ///
    /// `secrets` are added to the tool's environment for this call only.
    /// `container` names the container the call is about, so that the engine's
    /// "no such container" becomes `noSuchContainer`.
    func execute(
        _ operation: String, _ arguments: [String], timeout: Duration? = nil, secrets: [String: String] = [:],
        workingDirectory: String = "/", container: String? = nil
    ) async throws -> ProcessResult {
        let effectiveTimeout = timeout ?? configuration.commandTimeout
        let command = ProcessCommand(
            executable: executablePath, arguments: globalArguments + arguments,
            environment: configuration.environment.variables.merging(secrets) { _, secret in secret },
            workingDirectory: workingDirectory)

        let result: ProcessResult
        do {
            result = try await ChildProcess.run(
                command, timeout: effectiveTimeout, killGracePeriod: configuration.killGracePeriod,
                outputLimit: configuration.outputLimit)
        } catch let error as ChildProcessError {
            throw engineError(for: error)
        }

        if result.timedOut {
            throw ContainerEngineError.timedOut(operation: operation, timeout: effectiveTimeout)
        }
        guard result.status.isSuccess else {
            throw failure(operation, status: result.status, standardError: result.standardError.text, container: container)
        }
        guard !result.standardOutput.isTruncated else {
            throw ContainerEngineError.unexpectedOutput(
                operation: operation,
                detail: "\(result.standardOutput.totalByteCount) bytes exceed the output limit of \(configuration.outputLimit), so raise outputLimit")
        }
        return result
    }

    /// Converts a failure to start the tool into the matching engine error.
    func engineError(for error: ChildProcessError) -> ContainerEngineError {
        switch error {
        case .containsNulByte(let field):
            return .invalidValue(field: field, value: "", reason: "contains a NUL byte")
        case .invalidEnvironmentName(let name):
            return .invalidValue(field: "environment variable name", value: name, reason: "is empty or contains '='")
        case .executableNotFound, .spawnFailed, .systemCallFailed, .unsupported:
            return .engineUnavailable(executable: executablePath, reason: error.description)
        }
    }

    /// Builds the error for a failed call, recognising the engines' "no such container" messages.
    func failure(_ operation: String, status: TerminationStatus, standardError: String, container: String?) -> ContainerEngineError {
        // The engine prints its error last, after any warnings, so the end of stderr is kept.
        let message = String(standardError.trimmingCharacters(in: .whitespacesAndNewlines).suffix(Self.errorMessageLimit))
        // Podman prints "no container with name or ID ... found: no such container",
        // and docker prints "Error response from daemon: No such container: ...".
        if let container, message.lowercased().contains("no such container") {
            return .noSuchContainer(container)
        }
        return .failed(operation: operation, status: status, standardError: message)
    }

    /// Throws when `reference` cannot be a container id or name.
    func checkContainerReference(_ reference: String) throws(ContainerEngineError) {
        guard ArgumentValidation.isContainerReference(reference) else {
            throw .invalidValue(
                field: "container id or name", value: reference,
                reason: "use letters, digits, '_', '.' or '-', starting with a letter or digit")
        }
    }
}

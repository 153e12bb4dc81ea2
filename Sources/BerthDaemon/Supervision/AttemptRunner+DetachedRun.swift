import BerthCore
import BerthEngine
import BerthStore
import Foundation

// Starting a podman container with one `run --detach`, and the attempt
// directory that contains its log file, conmon's pid file and conmon's OOM marker.

extension AttemptRunner {
    /// The attempt's directory under `directories.containerLogs`, named like
    /// its container, so that a restarted daemon finds it again. The runner
    /// deletes it when it removes the container, and the daemon's sweep
    /// deletes those of finished jobs that a crash left behind.
    var attemptDirectory: String {
        let name = ContainerLabels.containerName(databaseID: context.databaseID, jobID: lease.jobID, attempt: lease.attempt)
        return context.configuration.directories.resolvedContainerLogs + "/" + name
    }

    /// The container's log in the k8s-file format, which berth reads itself.
    var logFilePath: String { attemptDirectory + "/output.log" }

    /// The file conmon creates in its working directory, the attempt directory,
    /// when the kernel's OOM killer ended a process of the container.
    var oomMarkerPath: String { attemptDirectory + "/oom" }

    /// The file where conmon writes its pid, which `waitForExit` watches.
    var conmonPIDFilePath: String { attemptDirectory + "/conmon.pid" }

    /// Creates and starts the container with one engine command.
    ///
    /// Compared with `create`, `inspect` and `start`, this saves two podman
    /// processes per attempt. Conmon runs in the attempt directory, so its OOM
    /// marker lands where `record` looks for it.
    func runDetached(_ runSpec: ContainerRunSpec, secrets: [String: String]) async -> StartResult {
        var runSpec = runSpec
        runSpec.logFile = logFilePath
        runSpec.conmonPIDFile = conmonPIDFilePath
        do {
            // A directory left by a daemon that died before it recorded the attempt contains nothing of value.
            try? FileManager.default.removeItem(atPath: attemptDirectory)
            try FileManager.default.createDirectory(
                atPath: attemptDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            return .ended(await finish(AttemptResult(outcome: .failed, message: "could not prepare the attempt: \(error)"), containerID: nil))
        }

        let starting = ContinuousClock.now
        let id: String
        do {
            id = try await runRemovingLeftover(runSpec, secrets: secrets)
        } catch {
            // A failed start leaves the container created, though it never ran.
            try? await context.engine.remove(runSpec.name)
            return .ended(await finishAfterEngineFailure(error, operation: "run", containerID: nil))
        }
        containerID.withLock { $0 = id }
        context.metrics.observeContainerStart(ContinuousClock.now - starting)

        // The container runs before it is recorded. A daemon that dies in
        // between leaves a container whose name the next daemon derives from
        // the lease, and that daemon adopts it. A stop that came meanwhile is
        // carried out by removing the container.
        if let end = await recordCreated(id, runSpec: runSpec) {
            return .ended(end)
        }
        return await recordStarted(id)
    }

    /// Runs the container, first removing a container of the same name when
    /// the engine reports the name in use. Such a container is left over when
    /// a daemon died between starting it and recording it, so it never ran
    /// under a lease that anyone holds.
    private func runRemovingLeftover(_ runSpec: ContainerRunSpec, secrets: [String: String]) async throws -> String {
        do {
            return try await context.engine.run(runSpec, secrets: secrets, workingDirectory: attemptDirectory)
        } catch ContainerEngineError.failed(_, _, let message) where message.contains("already in use") {
            logger.warning("removing a leftover container of the same name", [(.containerID, runSpec.name)])
            try await context.engine.remove(runSpec.name)
            return try await context.engine.run(runSpec, secrets: secrets, workingDirectory: attemptDirectory)
        }
    }

    /// Removes the container and then the attempt directory.
    func removeContainer(_ id: String) async throws {
        defer { removeAttemptDirectory() }
        try await context.engine.remove(id)
    }

    /// Removes the attempt directory, if there is one.
    func removeAttemptDirectory() {
        let directory = attemptDirectory
        guard FileManager.default.fileExists(atPath: directory) else { return }
        do {
            try FileManager.default.removeItem(atPath: directory)
        } catch {
            logger.warning("could not remove the attempt directory", [(.reason, directory), (.error, "\(error)")])
        }
    }
}

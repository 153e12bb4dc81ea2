import Synchronization

extension ContainerEngine {
    /// Follows the container's log until the container exits, calling `onLine`
    /// with each line of its stdout and stderr, kept apart.
    ///
    /// Runs `logs --follow` in the streaming mode of `ChildProcess`, so `onLine`
    /// runs on the reader threads and may be called for both streams at once.
    /// When `timeout` expires, the logs command is killed and `timedOut` thrown,
    /// while the container keeps running.
    ///
    /// NOTE: The engine prints its own errors on the same stderr as the
    /// container's, so an error such as "no such container" also arrives as a
    /// last stderr line before the call throws.
    ///
    /// With `follow` false, the log as it is now is read once and the call
    /// returns; the same lines come out in the same order.
    public func followLogs(
        _ container: String, follow: Bool = true, timeout: Duration,
        maximumLineBytes: Int = ChildProcess.defaultMaximumLineBytes,
        onLine: @escaping @Sendable (OutputLine) -> Void
    ) async throws {
        try checkContainerReference(container)
        let command = ProcessCommand(
            executable: executablePath, arguments: globalArguments + (follow ? ["logs", "--follow", container] : ["logs", container]),
            environment: configuration.environment.variables, workingDirectory: "/")

        let lastErrorLine = Mutex("")
        let process: ChildProcess
        do {
            process = try ChildProcess.start(command, maximumLineBytes: maximumLineBytes) { line in
                if line.stream == .standardError {
                    lastErrorLine.withLock { $0 = line.text }
                }
                onLine(line)
            }
        } catch {
            throw engineError(for: error)
        }

        guard let status = await process.waitForCompletion(timeout: timeout) else {
            _ = await process.terminate(gracePeriod: configuration.killGracePeriod)
            if Task.isCancelled {
                throw CancellationError()
            }
            throw ContainerEngineError.timedOut(operation: "logs", timeout: timeout)
        }
        guard status.isSuccess else {
            throw failure("logs", status: status, standardError: lastErrorLine.withLock { $0 }, container: container)
        }
    }

    /// Follows the container's log as a stream of lines, which ends when the container exits.
    ///
    /// The stream throws what `followLogs` throws. Ending the iteration early
    /// kills the logs command.
    public func logLines(
        _ container: String, timeout: Duration, maximumLineBytes: Int = ChildProcess.defaultMaximumLineBytes
    ) -> AsyncThrowingStream<OutputLine, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await followLogs(container, timeout: timeout, maximumLineBytes: maximumLineBytes) { line in
                        continuation.yield(line)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

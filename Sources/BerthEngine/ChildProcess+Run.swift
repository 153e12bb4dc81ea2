import Glibc
import Synchronization

extension ChildProcess {
    /// How long to wait, after SIGKILL went to the group, for the output pipes to close
    /// before the output is abandoned.
    static let pipeCloseWaitAfterKill: Duration = .seconds(2)

    /// Runs `command` to completion and returns its status and the start of its output.
    ///
    /// When `timeout` expires the whole process group gets SIGTERM, then SIGKILL
    /// after `killGracePeriod`, and the result has `timedOut` set. Each stream is
    /// kept up to `outputLimit` bytes and counted beyond it. Cancelling the task
    /// kills the group the same way and throws `CancellationError`.
    public static func run(
        _ command: ProcessCommand, timeout: Duration, killGracePeriod: Duration = .seconds(2),
        outputLimit: Int = 1 << 20
    ) async throws -> ProcessResult {
        let capture = OutputCapture(limit: outputLimit)
        let process = try start(command, sink: capture.sink)

        let status: TerminationStatus
        var timedOut = false
        if let finished = await process.waitForCompletion(timeout: timeout) {
            status = finished
        } else if Task.isCancelled {
            _ = await process.terminate(gracePeriod: killGracePeriod)
            throw CancellationError()
        } else {
            timedOut = true
            status = await process.terminate(gracePeriod: killGracePeriod)
        }

        return ProcessResult(
            status: status, standardOutput: capture.output(of: .standardOutput),
            standardError: capture.output(of: .standardError), timedOut: timedOut)
    }

    /// Ends the whole process group: SIGTERM, then SIGKILL after `gracePeriod`, and returns the status.
    ///
    /// If the pipes stay open after SIGKILL, held by a process that left the
    /// group, the output is abandoned. The steps run in their own task, so a
    /// cancelled caller still waits through the grace period.
    public func terminate(gracePeriod: Duration) async -> TerminationStatus {
        await Task { await self.runTerminationSteps(gracePeriod: gracePeriod) }.value
    }

    private func runTerminationSteps(gracePeriod: Duration) async -> TerminationStatus {
        if let status = await waitForCompletion(timeout: .zero) {
            return status
        }

        signalGroup(SIGTERM)
        if let status = await waitForCompletion(timeout: gracePeriod) {
            return status
        }

        signalGroup(SIGKILL)
        if let status = await waitForCompletion(timeout: Self.pipeCloseWaitAfterKill) {
            return status
        }

        abandonOutput()
        guard let status = try? await waitForCompletion() else {
            preconditionFailure("the termination task of child \(pid) was cancelled, but nothing has a handle to cancel it")
        }
        return status
    }
}

/// Keeps the first bytes of each output stream and counts the rest.
final class OutputCapture: Sendable {
    private let limit: Int
    private let standardOutput = Mutex(CapturedOutput())
    private let standardError = Mutex(CapturedOutput())

    init(limit: Int) {
        self.limit = max(limit, 0)
    }

    var sink: ChildProcess.OutputSink {
        ChildProcess.OutputSink(
            receive: { [self] stream, bytes in append(bytes, to: stream) },
            finish: { _ in })
    }

    func output(of stream: StandardStream) -> CapturedOutput {
        withBuffer(for: stream) { $0 }
    }

    private func append(_ bytes: UnsafeRawBufferPointer, to stream: StandardStream) {
        withBuffer(for: stream) { output in
            let room = limit - output.bytes.count
            if room > 0 {
                output.bytes.append(contentsOf: bytes.prefix(room))
            }
            output.totalByteCount += bytes.count
        }
    }

    private func withBuffer<Result: Sendable>(
        for stream: StandardStream, _ body: (inout CapturedOutput) -> Result
    ) -> Result {
        switch stream {
        case .standardOutput: standardOutput.withLock { body(&$0) }
        case .standardError: standardError.withLock { body(&$0) }
        }
    }
}

import Dispatch
import Foundation
import Glibc
import Synchronization

/// A child process started with posix_spawn, with its stdout and stderr drained
/// by two dedicated threads and its exit collected by a third.
///
/// The threads block in `poll`, `read` and `waitid`, so no blocking call runs on
/// Swift concurrency's cooperative pool. The reaper thread is the only place
/// that reaps the pid. It observes the exit with `WNOWAIT` and reaps only
/// after both output pipes have closed. Until then the exited leader stays a
/// zombie that keeps its pid and process group id reserved, so `signalGroup`
/// can never reach an unrelated process that reused the number.
///
/// Nothing else in this process may wait for this pid, by `waitpid(-1)` or by
/// ignoring SIGCHLD. The reaper traps if the child was reaped elsewhere.
public final class ChildProcess: Sendable {
    /// The child's pid, which is also its process group id.
    public let pid: pid_t
    /// The resolved path that was executed.
    public let executablePath: String

    private let completion = CompletionLatch<TerminationStatus>()
    private let state: Mutex<State>
    /// Signalled by the last output reader, so that the reaper can reap.
    private let outputsFinished = DispatchSemaphore(value: 0)

    private struct State {
        /// The leader's status once it has exited, before and after reaping.
        var exitStatus: TerminationStatus?
        var isReaped = false
        var openOutputCount = 2
        /// The pipe written once to stop both readers, nil after both have finished and it is closed.
        var cancelPipe: (read: Int32, write: Int32)?
        var isOutputAbandoned = false
    }

    /// Receives raw output on the reader threads.
    struct OutputSink: Sendable {
        /// Called with each chunk read. The buffer is valid only during the call.
        var receive: @Sendable (StandardStream, UnsafeRawBufferPointer) -> Void
        /// Called once per stream at end of file, or when the output is abandoned.
        var finish: @Sendable (StandardStream) -> Void
    }

    private init(pid: pid_t, executablePath: String, cancelPipe: (read: Int32, write: Int32)) {
        self.pid = pid
        self.executablePath = executablePath
        self.state = Mutex(State(cancelPipe: cancelPipe))
    }

    /// Starts `command` and feeds its output to `sink` from two reader threads.
    static func start(_ command: ProcessCommand, sink: OutputSink) throws(ChildProcessError) -> ChildProcess {
        let path = try command.resolvedExecutablePath()
        let cancelPipe = try makeCloseOnExecPipe()
        let spawned: SpawnedChild
        do {
            spawned = try spawn(path: path, command: command)
        } catch {
            closeDescriptor(cancelPipe.read)
            closeDescriptor(cancelPipe.write)
            throw error
        }

        let process = ChildProcess(pid: spawned.pid, executablePath: path, cancelPipe: cancelPipe)
        process.startThread(named: "berth-reap-\(spawned.pid)") { process.reap() }
        process.startThread(named: "berth-stdout-\(spawned.pid)") {
            process.drain(spawned.standardOutput, as: .standardOutput, cancelDescriptor: cancelPipe.read, into: sink)
        }
        process.startThread(named: "berth-stderr-\(spawned.pid)") {
            process.drain(spawned.standardError, as: .standardError, cancelDescriptor: cancelPipe.read, into: sink)
        }
        return process
    }

    /// The leader's status once it has exited, even while its output is still being read.
    public var exitStatus: TerminationStatus? {
        state.withLock { $0.exitStatus }
    }

    /// True once the leader has exited, both output pipes have closed and the pid is reaped.
    public var isCompleted: Bool {
        completion.value != nil
    }

    /// Waits until the process has exited, its output has ended and it has been reaped.
    ///
    /// Throws `CancellationError` when the task is cancelled first, and the process keeps running.
    public func waitForCompletion() async throws -> TerminationStatus {
        guard let status = await completion.wait() else { throw CancellationError() }
        return status
    }

    /// Waits for completion at most `timeout`, and returns nil when the time runs out or the task is cancelled.
    public func waitForCompletion(timeout: Duration) async -> TerminationStatus? {
        await completion.wait(timeout: timeout)
    }

    /// Sends `signal` to the leader only, and returns false once the process is reaped or when kill fails.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        state.withLock { state in
            guard !state.isReaped else { return false }
            return kill(pid, signal) == 0
        }
    }

    /// Sends `signal` to every process in the child's process group, and returns false once reaped or when kill fails.
    @discardableResult
    public func signalGroup(_ signal: Int32) -> Bool {
        state.withLock { state in
            guard !state.isReaped else { return false }
            return kill(-pid, signal) == 0
        }
    }

    /// Stops reading output and closes the pipes, so that completion no longer waits for them.
    ///
    /// Use it when a process outside the group, which no signal reaches, may still hold a pipe open.
    public func abandonOutput() {
        state.withLock { state in
            guard !state.isOutputAbandoned, let cancelPipe = state.cancelPipe else { return }
            state.isOutputAbandoned = true
            var byte: UInt8 = 1
            _ = write(cancelPipe.write, &byte, 1)
        }
    }

    private func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        // Output handlers run on the reader threads, so they get a generous stack.
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Copies one pipe into `sink` until end of file or until the output is abandoned.
    private func drain(_ descriptor: Int32, as stream: StandardStream, cancelDescriptor: Int32, into sink: OutputSink) {
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 1)
        defer { buffer.deallocate() }

        var descriptors = [
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: cancelDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            if poll(&descriptors, 2, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if descriptors[1].revents != 0 { break }
            if descriptors[0].revents == 0 { continue }

            let count = read(descriptor, buffer.baseAddress, bufferSize)
            if count > 0 {
                sink.receive(stream, UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                break
            }
        }

        closeDescriptor(descriptor)
        sink.finish(stream)
        outputEnded()
    }

    private func outputEnded() {
        let isLast = state.withLock { state in
            state.openOutputCount -= 1
            guard state.openOutputCount == 0 else { return false }
            if let cancelPipe = state.cancelPipe {
                closeDescriptor(cancelPipe.read)
                closeDescriptor(cancelPipe.write)
                state.cancelPipe = nil
            }
            return true
        }
        if isLast {
            outputsFinished.signal()
        }
    }

    /// Observes the exit, waits for both pipes to close, then reaps the pid.
    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            let code = errno
            guard code == EINTR else {
                preconditionFailure("waitid for child \(pid) failed with errno \(code); something else in this process reaped it")
            }
        }
        let status = Self.terminationStatus(from: info)
        state.withLock { $0.exitStatus = status }

        outputsFinished.wait()

        // The lock makes reaping and `signalGroup` exclusive: no signal is sent after the pid is freed.
        state.withLock { state in
            var rawStatus: Int32 = 0
            while waitpid(pid, &rawStatus, 0) < 0 {
                let code = errno
                guard code == EINTR else {
                    preconditionFailure("waitpid for child \(pid) failed with errno \(code) after waitid saw it exit")
                }
            }
            state.isReaped = true
        }
        completion.complete(with: status)
    }

    private static func terminationStatus(from info: siginfo_t) -> TerminationStatus {
        let value = info._sifields._sigchld.si_status
        switch info.si_code {
        case Int32(CLD_EXITED):
            return .exited(value)
        default:
            // CLD_KILLED or CLD_DUMPED, because WEXITED reports no other codes.
            return .signaled(value)
        }
    }
}

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where a child's standard input comes from.
public enum StandardInput: Equatable, Sendable {
    /// `/dev/null`, so that a child that reads its input gets end of file at once.
    case nullDevice
    /// The file at this path, opened read-only in the child.
    case file(String)
    /// A pipe that the test writes with `writeInput(_:)` and closes with `closeInput()`.
    case pipe
}

/// One of the two output streams of a child.
public enum OutputStream: Sendable {
    case standardOutput
    case standardError
}

/// How a child process ended.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// The exit status, or 128 + N after signal N, as a shell reports it.
    public var code: Int32 {
        switch self {
        case .exited(let status): status
        case .signaled(let signal): 128 + signal
        }
    }

    /// Decodes a status that `waitpid` stored.
    init(waitStatus: Int32) {
        // The low 7 bits contain the terminating signal, 0 for a normal exit.
        let signal = waitStatus & 0x7f
        self = signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signaled(signal)
    }

    public var description: String {
        switch self {
        case .exited(let status): "exit status \(status)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// The exit status and the whole output of a finished child.
public struct CommandResult: Sendable, CustomStringConvertible {
    /// The exit status, or 128 + N after signal N.
    public let status: Int32
    public let standardOutput: String
    public let standardError: String

    public init(status: Int32, standardOutput: String, standardError: String) {
        self.status = status
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// Standard output split at newlines, without the empty string after a final newline.
    ///
    /// Empty lines inside the output are kept, so that a check of the exact
    /// lines also fails on a blank line that should not be there.
    public var lines: [String] {
        var lines = standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The lines of standard output that are not empty.
    public var nonEmptyLines: [String] {
        standardOutput.split(separator: "\n").map(String.init)
    }

    public var description: String {
        "exit status \(status)\n--- standard output\n\(standardOutput)\n--- standard error\n\(standardError)"
    }
}

/// A child process of a test, started with `posix_spawn`.
///
/// The child gets an empty signal mask and the default action for every
/// signal, because both are inherited across exec and the test runner may
/// block or ignore some. Two threads drain its standard output and error into
/// memory as they arrive, because a pipe holds only 64 KiB and a child that
/// fills it would block forever. The pid is reaped exactly once, by `waitpid`
/// under the lock that `signal` also takes, so that no signal can reach an
/// unrelated process that reused the number.
///
/// Nothing else in the test process may wait for this pid. A process that is
/// released while it runs is killed and reaped.
public final class SpawnedProcess: Sendable {
    public let pid: pid_t
    /// The executable followed by its arguments.
    public let command: [String]
    /// Whether the child leads a process group of its own, which `killAndWait()` then kills as a whole.
    public let leadsProcessGroup: Bool
    private let output: CapturedOutput
    private let state: Mutex<State>

    private struct State {
        var exitStatus: ExitStatus?
        /// The write end of the input pipe, nil unless the input is a pipe that is still open.
        var inputDescriptor: Int32?
    }

    /// Starts `executable` with `arguments` and exactly `environment`.
    ///
    /// - Parameters:
    ///   - newProcessGroup: Puts the child in a process group of its own, so
    ///     that a Ctrl-C meant for the test run does not reach it and
    ///     `killAndWait()` also kills the processes it started.
    ///   - onOutput: Called on a reader thread with each chunk read, in the
    ///     order that the chunks of one stream arrive.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String],
        standardInput: StandardInput = .nullDevice, newProcessGroup: Bool = true,
        onOutput: (@Sendable (OutputStream, [UInt8]) -> Void)? = nil
    ) throws {
        command = [executable] + arguments
        leadsProcessGroup = newProcessGroup

        let isInputPipe = standardInput == .pipe
        let pipes = try Self.makePipes(count: isInputPipe ? 3 : 2)
        let outputPipe = pipes[0]
        let errorPipe = pipes[1]
        let inputPipe = isInputPipe ? pipes[2] : nil
        // The child has its own copies once it runs, so the parent's child-side ends close in every case.
        defer {
            close(outputPipe.write)
            close(errorPipe.write)
            if let inputPipe { close(inputPipe.read) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch standardInput {
        case .nullDevice:
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .file(let path):
            posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
        case .pipe:
            posix_spawn_file_actions_adddup2(&actions, inputPipe!.read, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outputPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, errorPipe.write, 2)
        // Also closes descriptors that other code of the test process opened without close-on-exec.
        if let addCloseFrom = GNUFunctions.addCloseFrom {
            _ = addCloseFrom(&actions, 3)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard code == 0 else {
            close(outputPipe.read)
            close(errorPipe.read)
            if let inputPipe { close(inputPipe.write) }
            throw TestFailure("cannot start \(executable): \(String(cString: strerror(code)))")
        }

        self.pid = pid
        state = Mutex(State(inputDescriptor: inputPipe?.write))
        output = CapturedOutput(onOutput: onOutput)
        output.startReading(outputPipe.read, as: .standardOutput, pid: pid)
        output.startReading(errorPipe.read, as: .standardError, pid: pid)
    }

    deinit {
        killAndWait()
        closeInput()
    }

    /// Returns a pipe whose ends are close-on-exec from the start.
    ///
    /// A child that another test spawns at the same moment must not inherit
    /// a write end, because the reader here would then wait for that child
    /// to exit before it reads end of file.
    private static func makePipe() throws -> (read: Int32, write: Int32) {
        guard let pipe2 = GNUFunctions.pipe2 else { throw TestFailure("this libc has no pipe2") }
        var descriptors: [Int32] = [-1, -1]
        let result = descriptors.withUnsafeMutableBufferPointer { pipe2($0.baseAddress!, O_CLOEXEC) }
        guard result == 0 else {
            throw TestFailure("pipe2 failed: \(String(cString: strerror(errno)))")
        }
        return (descriptors[0], descriptors[1])
    }

    /// Returns `count` pipes, or closes the ones already made and throws.
    private static func makePipes(count: Int) throws -> [(read: Int32, write: Int32)] {
        var pipes: [(read: Int32, write: Int32)] = []
        do {
            for _ in 0..<count {
                pipes.append(try makePipe())
            }
        } catch {
            for pipe in pipes {
                close(pipe.read)
                close(pipe.write)
            }
            throw error
        }
        return pipes
    }

    // MARK: State

    /// Standard output read so far.
    public var standardOutputSoFar: String { output.text(of: .standardOutput) }

    /// Standard error read so far.
    public var standardErrorSoFar: String { output.text(of: .standardError) }

    /// True until the child has exited and been reaped.
    public var isRunning: Bool { exitStatus() == nil }

    /// Reaps the child if it has exited, without blocking, and returns how it ended, or nil while it runs.
    public func exitStatus() -> ExitStatus? {
        state.withLock { state in
            reap(&state, blocking: false)
            return state.exitStatus
        }
    }

    /// Returns the result once the child has exited and both output streams
    /// have ended, or nil until then. Never blocks.
    public func poll() -> CommandResult? {
        guard let status = exitStatus(), output.hasEnded else { return nil }
        return result(status)
    }

    private func result(_ status: ExitStatus) -> CommandResult {
        CommandResult(status: status.code, standardOutput: standardOutputSoFar, standardError: standardErrorSoFar)
    }

    /// Stores the exit status once `waitpid` returns it. The caller must hold the lock.
    private func reap(_ state: inout State, blocking: Bool) {
        guard state.exitStatus == nil else { return }
        var status: Int32 = 0
        var reaped: pid_t
        repeat {
            reaped = waitpid(pid, &status, blocking ? 0 : WNOHANG)
        } while reaped < 0 && errno == EINTR
        if reaped == pid {
            state.exitStatus = ExitStatus(waitStatus: status)
        } else if reaped < 0 {
            // Only a bug in the tests can lose the child, such as a second waiter.
            preconditionFailure("waitpid for \(command[0]) (pid \(pid)) failed: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: Signals

    /// Sends `number` to the child alone, unless it has been reaped.
    public func signal(_ number: Int32) {
        state.withLock { state in
            reap(&state, blocking: false)
            guard state.exitStatus == nil else { return }
            _ = Glibc.kill(pid, number)
        }
    }

    /// Kills the child, and its process group when it leads one, with
    /// SIGKILL, then reaps it. Blocks the calling thread until the child is gone.
    public func killAndWait() {
        state.withLock { state in
            reap(&state, blocking: false)
            guard state.exitStatus == nil else { return }
            // The group id stays reserved while the unreaped leader exists, so the group is still ours.
            _ = Glibc.kill(leadsProcessGroup ? -pid : pid, SIGKILL)
            reap(&state, blocking: true)
        }
    }

    // MARK: Input

    /// Writes `text` to the child's standard input, which must be `.pipe`.
    public func writeInput(_ text: String) throws {
        try state.withLock { state in
            guard let descriptor = state.inputDescriptor else {
                throw TestFailure("the standard input of \(command[0]) is not an open pipe")
            }
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw TestFailure("writing to the input of \(command[0]) failed: \(String(cString: strerror(errno)))")
                }
                bytes = bytes.dropFirst(written)
            }
        }
    }

    /// Closes the child's standard input, so that it reads end of file.
    public func closeInput() {
        state.withLock { state in
            if let descriptor = state.inputDescriptor {
                close(descriptor)
                state.inputDescriptor = nil
            }
        }
    }

    // MARK: Waiting

    /// Waits without blocking a thread until the child has exited, and
    /// returns nil when `timeout` passes first. The output may still be arriving.
    public func waitForExit(timeout: Duration) async -> ExitStatus? {
        let deadline = ContinuousClock.now + timeout
        var pause: Duration = .milliseconds(1)
        while true {
            if let status = exitStatus() { return status }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return nil }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(20))
        }
    }

    /// Waits until the child has exited and its output has ended, and returns
    /// the result. When `timeout` passes first, it kills the child and throws.
    public func wait(timeout: Duration) async throws -> CommandResult {
        let deadline = ContinuousClock.now + timeout
        var pause: Duration = .milliseconds(1)
        while true {
            if let result = poll() { return result }
            if ContinuousClock.now >= deadline {
                throw timedOut(after: timeout)
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(20))
        }
    }

    /// Does what `wait(timeout:)` does, blocking the calling thread, for
    /// synchronous tests and for `deinit`, where nothing can be awaited.
    public func waitBlocking(timeout: Duration) throws -> CommandResult {
        let deadline = ContinuousClock.now + timeout
        // Short first pauses, because most commands of the tests end within milliseconds.
        var pause: Duration = .microseconds(200)
        while true {
            if let result = poll() { return result }
            if ContinuousClock.now >= deadline {
                throw timedOut(after: timeout)
            }
            Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18)
            pause = min(pause * 2, .milliseconds(5))
        }
    }

    private func timedOut(after timeout: Duration) -> TestFailure {
        killAndWait()
        return TestFailure(
            "\(command.joined(separator: " ")) ran longer than \(timeout) and was killed\n"
                + "--- standard output\n\(standardOutputSoFar)\n--- standard error\n\(standardErrorSoFar)")
    }
}

extension SpawnedProcess {
    /// Runs a command to its end without blocking a thread, killing it after `timeout`, which throws.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String],
        standardInput: StandardInput = .nullDevice, timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        let process = try SpawnedProcess(executable, arguments, environment: environment, standardInput: standardInput)
        return try await process.wait(timeout: timeout)
    }

    /// Runs a command to its end on the calling thread, killing it after `timeout`, which throws.
    public static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String],
        standardInput: StandardInput = .nullDevice, timeout: Duration = .seconds(60)
    ) throws -> CommandResult {
        let process = try SpawnedProcess(executable, arguments, environment: environment, standardInput: standardInput)
        return try process.waitBlocking(timeout: timeout)
    }
}

/// glibc functions that Swift's Glibc module leaves out, because glibc
/// declares them only under `_GNU_SOURCE`: `pipe2` (glibc 2.9) and
/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34).
private enum GNUFunctions {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let pipe2 = lookUp("pipe2", as: Pipe2.self)
    static let addCloseFrom = lookUp("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)

    private static func lookUp<Function>(_ name: String, as type: Function.Type) -> Function? {
        // dlopen(nil) returns the handle of the main program, whose lookups include libc.
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }
}

/// The output of one child, filled by its two reader threads.
///
/// It is separate from `SpawnedProcess`, so that the reader threads do not
/// keep the process object alive and its `deinit` can still kill the child.
private final class CapturedOutput: Sendable {
    private let onOutput: (@Sendable (OutputStream, [UInt8]) -> Void)?
    private let buffers = Mutex<Buffers>(Buffers())

    private struct Buffers {
        var standardOutput: [UInt8] = []
        var standardError: [UInt8] = []
        var openStreams = 2
    }

    init(onOutput: (@Sendable (OutputStream, [UInt8]) -> Void)?) {
        self.onOutput = onOutput
    }

    /// True once both streams have reached end of file.
    var hasEnded: Bool { buffers.withLock { $0.openStreams == 0 } }

    func text(of stream: OutputStream) -> String {
        buffers.withLock { buffers in
            switch stream {
            case .standardOutput: String(decoding: buffers.standardOutput, as: UTF8.self)
            case .standardError: String(decoding: buffers.standardError, as: UTF8.self)
            }
        }
    }

    /// Starts a thread that reads `descriptor` until end of file and then closes it.
    func startReading(_ descriptor: Int32, as stream: OutputStream, pid: pid_t) {
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                let bytes = Array(chunk[..<count])
                buffers.withLock { buffers in
                    switch stream {
                    case .standardOutput: buffers.standardOutput += bytes
                    case .standardError: buffers.standardError += bytes
                    }
                }
                onOutput?(stream, bytes)
            }
            close(descriptor)
            buffers.withLock { $0.openStreams -= 1 }
        }
        thread.name = "test-child-\(pid)-\(stream == .standardOutput ? "stdout" : "stderr")"
        thread.start()
    }
}

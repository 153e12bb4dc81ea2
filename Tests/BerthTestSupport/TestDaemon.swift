import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `berth daemon` that a test started, with the log it wrote to standard
/// output and standard error.
public final class TestDaemon: Sendable {
    public let workerID: String
    public let process: SpawnedProcess
    private let output: DaemonLog

    /// Starts `berth daemon --config CONFIGURATION_PATH` with exactly `environment`.
    ///
    /// - Parameter logPath: When set, the daemon's output is appended to this
    ///   file and `log` reads it back, so that the log of a worker restarted
    ///   with the same file also contains its earlier runs. When nil, `log`
    ///   contains this run's output only.
    public init(
        binary: String, configurationPath: String, workerID: String, environment: [String: String],
        logPath: String? = nil
    ) throws {
        let output = try DaemonLog(path: logPath)
        self.workerID = workerID
        self.output = output
        // A process group of its own, so that a Ctrl-C meant for the test run does not reach it.
        process = try SpawnedProcess(
            binary, ["daemon", "--config", configurationPath], environment: environment, newProcessGroup: true,
            onOutput: { _, bytes in output.append(bytes) })
    }

    public var pid: pid_t { process.pid }

    /// Everything the daemon has logged so far.
    public var log: String { output.text }

    /// True until the daemon has exited and been reaped.
    public var isRunning: Bool { process.isRunning }

    /// Sends `number` to the daemon only, not to the processes it started.
    public func signal(_ number: Int32) {
        process.signal(number)
    }

    /// Waits for the daemon to exit and returns how it ended.
    ///
    /// After the exit it waits up to 5 seconds more for the output to end,
    /// so that `log` contains the last lines. A podman child that outlives the
    /// daemon may keep the pipes open longer.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> ExitStatus {
        guard let status = await process.waitForExit(timeout: timeout) else {
            throw TestFailure("daemon \(workerID) (pid \(pid)) did not exit within \(timeout); its log:\n\(log)")
        }
        let outputDeadline = ContinuousClock.now + .seconds(5)
        while process.poll() == nil, ContinuousClock.now < outputDeadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        return status
    }

    /// Waits until the log contains `text`.
    public func waitForLog(
        _ text: String, timeout: Duration = .seconds(30), file: String = #filePath, line: Int = #line
    ) async throws {
        try await waitUntil(
            "the log of daemon \(workerID) contains \"\(text)\"", timeout: timeout, file: file, line: line
        ) {
            log.contains(text)
        }
    }

    /// Kills the daemon alone with SIGKILL unless it has exited, and waits
    /// up to 10 seconds for it. The processes it started keep running, as
    /// after a crash of the daemon.
    public func kill() async {
        process.signal(SIGKILL)
        _ = await process.waitForExit(timeout: .seconds(10))
    }
}

/// The output of one daemon run, in memory or appended to a file.
private final class DaemonLog: Sendable {
    private let path: String?
    private let descriptor: Int32?
    private let memory = Mutex<[UInt8]>([])

    init(path: String?) throws {
        self.path = path
        if let path {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw TestFailure("cannot open the daemon log \(path): \(String(cString: strerror(errno)))")
            }
            self.descriptor = descriptor
        } else {
            descriptor = nil
        }
    }

    deinit {
        if let descriptor { close(descriptor) }
    }

    func append(_ bytes: [UInt8]) {
        guard let descriptor else {
            memory.withLock { $0 += bytes }
            return
        }
        var remaining = bytes[...]
        while !remaining.isEmpty {
            let written = remaining.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            remaining = remaining.dropFirst(written)
        }
    }

    var text: String {
        guard let path else {
            return memory.withLock { String(decoding: $0, as: UTF8.self) }
        }
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}

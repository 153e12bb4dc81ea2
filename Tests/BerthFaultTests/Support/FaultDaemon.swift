import BerthEngine
import Foundation
import Synchronization
import Testing

/// One run of `berth daemon` started by a test, its log kept in memory.
final class FaultDaemon: Sendable {
    let workerID: String
    private let process: ChildProcess
    private let buffer: LogBuffer

    private init(workerID: String, process: ChildProcess, buffer: LogBuffer) {
        self.workerID = workerID
        self.process = process
        self.buffer = buffer
    }

    /// Starts the daemon with the configuration file at `configurationPath`.
    static func start(binary: String, configurationPath: String, workerID: String, environment: [String: String]) throws -> FaultDaemon {
        let log = LogBuffer()
        let process = try ChildProcess.start(
            ProcessCommand(executable: binary, arguments: ["daemon", "--config", configurationPath], environment: environment),
            maximumLineBytes: 1 << 20,
            onLine: { line in log.append(line.text) })
        return FaultDaemon(workerID: workerID, process: process, buffer: log)
    }

    /// Log lines arriving on the reader threads of the daemon's standard error.
    private final class LogBuffer: Sendable {
        let lines = Mutex<[String]>([])

        func append(_ line: String) {
            lines.withLock { $0.append(line) }
        }
    }

    var log: String {
        buffer.lines.withLock { $0.joined(separator: "\n") }
    }

    var isRunning: Bool { !process.isCompleted }

    /// Sends `signal` to the daemon alone; its containers run under conmon, outside its process group.
    func send(_ signal: Int32) {
        _ = process.signal(signal)
    }

    /// Waits for the daemon to exit and returns how it ended.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> TerminationStatus {
        guard let status = await process.waitForCompletion(timeout: timeout) else {
            throw FaultTestError("daemon \(workerID) still runs after \(timeout); its log:\n\(log)")
        }
        return status
    }

    /// Waits until a log line contains `text`.
    func waitForLog(_ text: String, timeout: Duration = .seconds(30)) async throws {
        try await eventually("daemon \(workerID) logging \"\(text)\"", timeout: timeout) { log.contains(text) }
    }

    /// Sends SIGKILL unless the daemon already exited, and waits for it to end.
    func kill() async {
        guard isRunning else { return }
        send(SIGKILL)
        _ = await process.waitForCompletion(timeout: .seconds(10))
    }
}

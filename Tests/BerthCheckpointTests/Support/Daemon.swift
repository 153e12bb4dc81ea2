import BerthEngine
import Foundation
import Synchronization
import Testing

/// A `berth daemon` started by a test, with its log kept in memory.
final class TestDaemon: Sendable {
    let workerID: String
    let process: ChildProcess
    private let captured: Captured

    private init(workerID: String, process: ChildProcess, captured: Captured) {
        self.workerID = workerID
        self.process = process
        self.captured = captured
    }

    static func start(binary: String, configurationPath: String, workerID: String, environment: [String: String]) throws -> TestDaemon {
        let captured = Captured()
        let process = try ChildProcess.start(
            ProcessCommand(executable: binary, arguments: ["daemon", "--config", configurationPath], environment: environment),
            maximumLineBytes: 1 << 20,
            onLine: { line in captured.append(line.text) })
        return TestDaemon(workerID: workerID, process: process, captured: captured)
    }

    /// Collects log lines from the reader threads.
    private final class Captured: Sendable {
        let lines = Mutex<[String]>([])

        func append(_ line: String) {
            lines.withLock { $0.append(line) }
        }
    }

    var log: String {
        captured.lines.withLock { $0.joined(separator: "\n") }
    }

    var isRunning: Bool { !process.isCompleted }

    /// Sends `signal` to the daemon only, not to the processes it started.
    func send(_ signal: Int32) {
        _ = process.signal(signal)
    }

    /// Waits for the daemon to exit and returns how it ended.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> TerminationStatus {
        guard let status = await process.waitForCompletion(timeout: timeout) else {
            throw TestFailure("daemon \(workerID) did not exit within \(timeout); its log:\n\(log)")
        }
        return status
    }

    func waitForLog(_ text: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await waitUntil("the log of daemon \(workerID) contains \"\(text)\"", timeout: timeout, sourceLocation: sourceLocation) {
            log.contains(text)
        }
    }

    /// Kills the daemon with SIGKILL unless it already exited, and waits for it.
    func kill() async {
        guard isRunning else { return }
        send(SIGKILL)
        _ = await process.waitForCompletion(timeout: .seconds(10))
    }
}

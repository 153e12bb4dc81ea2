import BerthEngine
import Foundation
import Testing

/// The exit status and output of a finished command.
struct CommandResult: CustomStringConvertible {
    let status: Int32
    let standardOutput: String
    let standardError: String

    /// Standard output split into lines, without empty ones.
    var lines: [String] {
        standardOutput.split(separator: "\n").map(String.init)
    }

    var description: String {
        "exit status \(status)\n--- standard output\n\(standardOutput)\n--- standard error\n\(standardError)"
    }
}

/// Runs short commands (the berth CLI, podman) for the tests.
enum Commands {
    /// Returns the whole environment of every child: the system tools and podman's test configuration.
    static func environment(home: String) -> [String: String] {
        [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            "CONTAINERS_CONF": CheckpointImage.containersConf,
        ]
    }

    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        let command = ProcessCommand(executable: executable, arguments: arguments, environment: environment)
        let result = try await ChildProcess.run(command, timeout: timeout, outputLimit: 16 << 20)
        guard !result.timedOut else {
            throw TestFailure("\(executable) \(arguments) ran longer than \(timeout)")
        }
        let status: Int32 = switch result.status {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
        return CommandResult(status: status, standardOutput: result.standardOutput.text, standardError: result.standardError.text)
    }
}

/// A precondition of a test that did not hold.
struct TestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Polls `condition` every `interval` until it holds, and fails the test when
/// `timeout` passes first.
func waitUntil(
    _ description: String, timeout: Duration = .seconds(30), interval: Duration = .milliseconds(100),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out after \(timeout) waiting until \(description)", sourceLocation: sourceLocation)
            throw TestFailure("timed out after \(timeout) waiting until \(description)")
        }
        try await Task.sleep(for: interval)
    }
}

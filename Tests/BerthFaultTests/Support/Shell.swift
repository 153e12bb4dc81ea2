import BerthEngine
import Foundation
import Testing

/// The exit status and output of a command that ran to its end.
struct Finished: CustomStringConvertible {
    let status: Int32
    let standardOutput: String
    let standardError: String

    /// The non-empty lines of standard output.
    var lines: [String] {
        standardOutput.split(separator: "\n").map(String.init)
    }

    var description: String {
        "exit status \(status)\nstdout:\n\(standardOutput)\nstderr:\n\(standardError)"
    }
}

/// A condition of the fault suite that did not hold, or a tool it needs that is missing.
struct FaultTestError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Starts the short commands of the fault suite: the berth CLI, podman, sqlite3.
enum Shell {
    static let podman = ["/usr/bin/podman", "/usr/local/bin/podman"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let sqlite3 = ["/usr/bin/sqlite3", "/usr/local/bin/sqlite3"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Podman's settings for these test machines, passed to every child as CONTAINERS_CONF.
    static let containersConf = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/containers.conf").path

    /// Returns the complete environment of a child: system paths, a home and podman's test settings.
    static func environment(home: String) -> [String: String] {
        [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            "CONTAINERS_CONF": containersConf,
        ]
    }

    /// Runs `executable` to its end, killing it after `timeout`, which fails the caller.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration = .seconds(60)
    ) async throws -> Finished {
        let command = ProcessCommand(executable: executable, arguments: arguments, environment: environment)
        let result = try await ChildProcess.run(command, timeout: timeout, outputLimit: 32 << 20)
        if result.timedOut {
            throw FaultTestError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        let status: Int32 = switch result.status {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
        return Finished(status: status, standardOutput: result.standardOutput.text, standardError: result.standardError.text)
    }
}

/// Polls `condition` until it holds; records an issue and throws when `timeout` passes first.
func eventually(
    _ what: String, timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(100),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("\(what) did not happen within \(timeout)", sourceLocation: sourceLocation)
            throw FaultTestError("\(what) did not happen within \(timeout)")
        }
        try await Task.sleep(for: interval)
    }
}

/// Whether the suite can run its containers: rootful podman and sqlite3's shell.
let faultSuiteCanRun = getuid() == 0 && Shell.podman != nil && Shell.sqlite3 != nil

import BerthEngine
import Foundation
import Testing

/// The output and exit status of one finished child process.
struct RunResult: CustomStringConvertible {
    let status: Int32
    let standardOutput: String
    let standardError: String

    /// Standard output split into lines, without the empty one after the last newline.
    var lines: [String] {
        standardOutput.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    var description: String {
        "exit status \(status)\n--- stdout\n\(standardOutput)\n--- stderr\n\(standardError)"
    }
}

/// Runs short-lived helper commands (the `berth` CLI, podman, sh) for the tests.
enum Processes {
    /// Returns the environment of every child: enough to find the system tools and
    /// podman's test configuration, and nothing from the developer's shell.
    static func baseEnvironment(home: String) -> [String: String] {
        [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            "CONTAINERS_CONF": TestImage.containersConf,
        ]
    }

    /// Runs `executable` to completion without blocking a cooperative thread.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration = .seconds(60)
    ) async throws -> RunResult {
        let command = ProcessCommand(executable: executable, arguments: arguments, environment: environment)
        let result = try await ChildProcess.run(command, timeout: timeout, outputLimit: 16 << 20)
        if result.timedOut {
            throw TestFailure("\(executable) \(arguments) ran longer than \(timeout) and was killed")
        }
        let status: Int32
        switch result.status {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return RunResult(
            status: status, standardOutput: result.standardOutput.text, standardError: result.standardError.text)
    }

    /// Runs `/bin/sh -c script` and waits for it on the calling thread; for
    /// clean-up in `deinit`, where nothing can be awaited.
    static func runBlocking(_ script: String, environment: [String: String]) {
        let arguments: [String] = ["/bin/sh", "-c", script]
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", &actions, nil, argv, envp) == 0 else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

extension Processes {
    /// Pids of the processes whose argv satisfies `predicate`.
    static func pids(whereArguments predicate: ([String]) -> Bool) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return predicate(arguments) ? pid : nil
        }
    }
}

/// A test precondition that did not hold, with what to check.
struct TestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Polls `condition` every `interval` until it returns true, and fails the
/// test with `description` when `timeout` passes first.
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

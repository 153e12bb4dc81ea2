import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `berth` binary, found beside the test executable, as SwiftPM
/// writes both into one build directory; `$BERTH_BINARY` overrides it.
enum BuiltBerth {
    static let path: String? = {
        if let override = ProcessInfo.processInfo.environment["BERTH_BINARY"], !override.isEmpty {
            return override
        }
        var directories: [URL] = []
        if let executable = realpath("/proc/self/exe", nil) {
            directories.append(URL(fileURLWithPath: String(cString: executable)).deletingLastPathComponent())
            free(executable)
        }
        directories.append(Bundle.main.bundleURL)
        directories.append(Bundle.main.bundleURL.deletingLastPathComponent())
        return directories.map { $0.appendingPathComponent("berth").path }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func require() throws -> String {
        try #require(path, "berth is not built next to the test executable; run swift build or set BERTH_BINARY")
    }
}

/// The exit status and output of a finished child process.
struct Finished: CustomStringConvertible {
    let status: Int32
    let standardOutput: String
    let standardError: String

    var description: String {
        "exit status \(status)\n--- standard output\n\(standardOutput)--- standard error\n\(standardError)"
    }
}

/// A child process whose output goes to files, so a full pipe can never block it.
final class Spawned: @unchecked Sendable {
    // @unchecked: `reaped` is only touched by the test that owns the process, one call at a time.
    let pid: pid_t
    let command: [String]
    private let outputPath: String
    private let errorPath: String
    private var reaped: Finished?

    /// Starts `command` (an absolute path and its arguments) with exactly `environment`.
    init(_ command: [String], environment: [String: String], outputDirectory: String) throws {
        let name = UUID().uuidString.prefix(8)
        outputPath = "\(outputDirectory)/\(name).out"
        errorPath = "\(outputDirectory)/\(name).err"
        self.command = command

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, command[0], &actions, nil, argv, envp)
        guard code == 0 else {
            throw OperationsTestError("cannot start \(command[0]): \(String(cString: strerror(code)))")
        }
        self.pid = pid
    }

    /// Runs `command` to its end, killing it after `deadline`.
    static func run(_ command: [String], environment: [String: String], outputDirectory: String,
                    deadline: Duration = .seconds(120)) async throws -> Finished {
        let process = try Spawned(command, environment: environment, outputDirectory: outputDirectory)
        return try await process.wait(deadline: deadline)
    }

    /// Standard error so far, while the process runs.
    var standardErrorSoFar: String {
        (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
    }

    func signal(_ number: Int32) {
        if reaped == nil { kill(pid, number) }
    }

    /// Waits for the exit; kills the process and throws when it outlives `deadline`.
    func wait(deadline: Duration) async throws -> Finished {
        let start = ContinuousClock.now
        while true {
            if let finished = try poll() { return finished }
            if ContinuousClock.now - start > deadline {
                killAndReap()
                throw OperationsTestError("\(command.joined(separator: " ")) ran longer than \(deadline) and was killed")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the exit, blocking the calling thread, for code that cannot await
    /// and runs commands that end on their own.
    func waitBlocking() throws -> Finished {
        while true {
            if let finished = try poll() { return finished }
            // Waits without reaping, so that `poll` reaps and reads the output.
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0, errno != EINTR {
                throw OperationsTestError("waitid failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Kills the process unless it was already reaped; a reaped pid may belong to another process by now.
    func killAndReap() {
        guard reaped == nil else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        reaped = Finished(status: -1, standardOutput: "", standardError: "")
    }

    /// The result when the process has exited, or nil while it runs.
    func poll() throws -> Finished? {
        if let reaped { return reaped }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 || (result < 0 && errno == EINTR) { return nil }
        guard result == pid else {
            throw OperationsTestError("waitpid failed: \(String(cString: strerror(errno)))")
        }
        // The low seven bits hold the signal that ended the process, 0 after a normal exit.
        let signal = status & 0x7f
        let finished = Finished(
            status: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
            standardOutput: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
        reaped = finished
        unlink(outputPath)
        unlink(errorPath)
        return finished
    }

    deinit {
        killAndReap()
    }
}

struct OperationsTestError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What one run of the `berth` binary returned.
struct CommandResult: CustomStringConvertible {
    let status: Int32
    let standardOutput: String
    let standardError: String

    /// Standard output split into lines, without the final empty one.
    var lines: [String] {
        standardOutput.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    var description: String {
        "exit status \(status)\n--- stdout\n\(standardOutput)--- stderr\n\(standardError)"
    }
}

/// The built `berth` executable.
enum BerthBinary {
    /// `$BERTH_BINARY` when set, else `berth` next to the running test executable.
    ///
    /// SwiftPM writes the test bundle and the products into one directory,
    /// such as `.build/debug/`, and builds `berth` first because the test
    /// target depends on it.
    static let path: String? = {
        if let override = ProcessInfo.processInfo.environment["BERTH_BINARY"], !override.isEmpty {
            return override
        }
        var candidates: [URL] = []
        if let testExecutable = realpath("/proc/self/exe", nil) {
            candidates.append(URL(fileURLWithPath: String(cString: testExecutable)).deletingLastPathComponent())
            free(testExecutable)
        }
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        return candidates
            .map { $0.appendingPathComponent("berth").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func require() throws -> String {
        try #require(
            path, "no berth binary next to the test executable; run `swift build` first or set BERTH_BINARY")
    }
}

/// A `berth` child process whose standard output and error go to files, so
/// that no pipe can fill up and block it.
struct BerthProcess {
    let pid: pid_t
    let arguments: [String]
    private let outputPath: String
    private let errorPath: String

    /// Maximum time a single `berth` run may take before the test kills it and fails.
    static let deadline: Duration = .seconds(60)

    /// Starts `berth arguments`, or `executable` when given, with standard
    /// input read from `inputPath` (`/dev/null` when nil) and `environment`
    /// as its whole environment.
    static func start(
        _ arguments: [String], inputPath: String?, environment: [String: String], outputDirectory: URL,
        executable: String? = nil
    ) throws -> BerthProcess {
        let binary = try executable ?? BerthBinary.require()
        let runID = UUID().uuidString
        let outputPath = outputDirectory.appendingPathComponent("\(runID).out").path
        let errorPath = outputDirectory.appendingPathComponent("\(runID).err").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }

        var pid: pid_t = 0
        let code = posix_spawn(&pid, binary, &actions, nil, argv, envp)
        guard code == 0 else {
            throw SpawnError(message: "cannot start \(binary): \(String(cString: strerror(code)))")
        }
        return BerthProcess(pid: pid, arguments: arguments, outputPath: outputPath, errorPath: errorPath)
    }

    /// Waits for the process to exit and returns its status and output.
    ///
    /// Polls so that a hung child is killed at `deadline` instead of hanging
    /// the whole test run.
    func wait() throws -> CommandResult {
        let start = ContinuousClock.now
        var pause: Duration = .microseconds(200)
        while true {
            if let result = try poll() { return result }
            if ContinuousClock.now - start > Self.deadline {
                terminate()
                throw SpawnError(message: "berth \(arguments) ran longer than \(Self.deadline) and was killed")
            }
            Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18)
            pause = min(pause * 2, .milliseconds(5))
        }
    }

    /// Returns the result when the process has exited, or nil while it runs.
    func poll() throws -> CommandResult? {
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == 0 || (reaped < 0 && errno == EINTR) { return nil }
        guard reaped == pid else {
            throw SpawnError(message: "waitpid failed for berth \(arguments): \(String(cString: strerror(errno)))")
        }
        return try result(status: status)
    }

    /// Kills and reaps the process unless it has already been reaped; a
    /// reaped pid is never signalled because it may belong to another process.
    func terminate() {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == 0 else { return }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        unlink(outputPath)
        unlink(errorPath)
    }

    private func result(status: Int32) throws -> CommandResult {
        defer {
            unlink(outputPath)
            unlink(errorPath)
        }
        // The low 7 bits contain the terminating signal, 0 for a normal exit.
        let signal = status & 0x7f
        let exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return CommandResult(
            status: exitStatus,
            standardOutput: try String(contentsOfFile: outputPath, encoding: .utf8),
            standardError: try String(contentsOfFile: errorPath, encoding: .utf8))
    }
}

struct SpawnError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

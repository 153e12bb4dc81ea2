import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A failed child process: its command line, exit status and standard error.
struct SubprocessError: Error, CustomStringConvertible {
    let arguments: [String]
    let status: Int32
    let standardError: String

    var description: String {
        let error = standardError.isEmpty ? "" : ": \(standardError.prefix(2000))"
        return "\(arguments.prefix(4).joined(separator: " ")) exited with status \(status)\(error)"
    }
}

/// Child processes started with `posix_spawnp` and reaped with `waitpid`.
///
/// Foundation's `Process.waitUntilExit` polls a run loop, which adds up to
/// tens of milliseconds to a measured time; `waitpid` returns when the child exits.
enum Subprocess {
    /// Starts `arguments` (the program is looked up in PATH) with the standard
    /// streams read from or written to the given files, /dev/null when nil.
    static func spawn(
        _ arguments: [String], standardInput: String? = nil, standardInputDescriptor: Int32? = nil,
        standardOutput: String? = nil, standardError: String? = nil, appendOutput: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let writeFlags = O_WRONLY | O_CREAT | (appendOutput ? O_APPEND : O_TRUNC)
        if let standardInputDescriptor {
            posix_spawn_file_actions_adddup2(&actions, standardInputDescriptor, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, standardInput ?? "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput ?? "/dev/null", writeFlags, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, standardError ?? "/dev/null", writeFlags, 0o644)

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        guard code == 0 else {
            throw SubprocessError(arguments: arguments, status: -1, standardError: "cannot start: \(String(cString: strerror(code)))")
        }
        return pid
    }

    /// Waits for `pid` and returns its exit status, or 128 plus the signal that killed it.
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs `arguments` to completion and returns the wall time in seconds;
    /// throws when the exit status is not 0.
    @discardableResult
    static func timed(
        _ arguments: [String], standardInput: String? = nil, standardOutput: String? = nil
    ) throws -> Double {
        let errorFile = temporaryFile("stderr")
        defer { unlink(errorFile) }
        let start = ContinuousClock.now
        let pid = try spawn(arguments, standardInput: standardInput, standardOutput: standardOutput, standardError: errorFile)
        let status = wait(pid)
        let seconds = (ContinuousClock.now - start).seconds
        guard status == 0 else {
            throw SubprocessError(arguments: arguments, status: status, standardError: readText(errorFile))
        }
        return seconds
    }

    /// Runs `arguments` to completion and returns its standard output.
    static func output(_ arguments: [String], standardInput: String? = nil) throws -> String {
        let outputFile = temporaryFile("stdout")
        defer { unlink(outputFile) }
        try timed(arguments, standardInput: standardInput, standardOutput: outputFile)
        return readText(outputFile)
    }

    static func temporaryFile(_ tag: String) -> String {
        NSTemporaryDirectory() + "/berth-bench-\(getpid())-\(UUID().uuidString.prefix(8))-\(tag)"
    }

    static func readText(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// Sleeps the calling thread; the benchmarks run on one thread and measure real time.
func pause(seconds: Double) {
    Thread.sleep(forTimeInterval: seconds)
}

/// Flushes standard output, so that progress shows while a long measurement runs.
func flushOutput() {
    fflush(nil)
}

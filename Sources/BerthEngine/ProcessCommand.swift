import Glibc

/// A program to start as a child process: its argv, its whole environment and
/// its working directory. No shell is involved.
public struct ProcessCommand: Hashable, Sendable {
    /// An absolute or relative path, or a bare name looked up in the `PATH` of `environment`.
    public var executable: String
    /// The arguments after argv[0], which is `executable` as given.
    public var arguments: [String]
    /// The child's entire environment. Nothing is inherited from this process.
    public var environment: [String: String]
    /// The child's working directory, or nil to keep this process's.
    public var workingDirectory: String?

    public init(
        executable: String, arguments: [String] = [], environment: [String: String] = [:],
        workingDirectory: String? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// Finds the file to execute: `executable` itself when it contains a slash,
    /// otherwise the first executable match in the `PATH` of `environment`.
    ///
    /// The `PATH` of this process is never consulted, so that the lookup follows
    /// the environment the child will actually get.
    public func resolvedExecutablePath() throws(ChildProcessError) -> String {
        if executable.contains("/") {
            guard access(executable, X_OK) == 0 else {
                throw .executableNotFound(name: executable, searchPath: nil)
            }
            return executable
        }

        let searchPath = environment["PATH"] ?? ""
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(executable)" : "\(directory)/\(executable)"
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw .executableNotFound(name: executable, searchPath: searchPath)
    }
}

extension ProcessCommand: CustomStringConvertible {
    /// The argv and the names of the environment variables, without values because they may be secrets.
    public var description: String {
        let argv = ([executable] + arguments).joined(separator: " ")
        let names = environment.keys.sorted().joined(separator: ", ")
        return "\(argv) (environment: \(names))"
    }
}

/// The end of a child process: its exit status or the signal that killed it.
public enum TerminationStatus: Hashable, Sendable, CustomStringConvertible {
    /// The process called exit with this status.
    case exited(Int32)
    /// A signal with this number ended the process.
    case signaled(Int32)

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let status):
            return "exited with status \(status)"
        case .signaled(let signal):
            if let name = signalName(signal) {
                return "killed by signal \(signal) (\(name))"
            }
            return "killed by signal \(signal)"
        }
    }
}

/// The output pipe of a child process that a line came from.
public enum StandardStream: String, Hashable, Sendable {
    case standardOutput = "stdout"
    case standardError = "stderr"
}

/// A line of a child's output, as delivered by the streaming mode.
public struct OutputLine: Hashable, Sendable {
    public var stream: StandardStream
    public var line: SplitLine

    public init(stream: StandardStream, line: SplitLine) {
        self.stream = stream
        self.line = line
    }

    public var text: String { line.text }
}

/// The start of one output stream, kept up to a byte limit.
public struct CapturedOutput: Hashable, Sendable {
    /// The first bytes of the stream, up to the limit the caller set.
    public var bytes: [UInt8]
    /// All bytes the stream carried, including those beyond the limit.
    public var totalByteCount: Int

    public init(bytes: [UInt8] = [], totalByteCount: Int = 0) {
        self.bytes = bytes
        self.totalByteCount = totalByteCount
    }

    public var isTruncated: Bool { totalByteCount > bytes.count }

    /// The kept bytes decoded as UTF-8, with U+FFFD for invalid sequences.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// The result of running a child process to completion.
public struct ProcessResult: Hashable, Sendable {
    public var status: TerminationStatus
    public var standardOutput: CapturedOutput
    public var standardError: CapturedOutput
    /// The timeout expired, so the process group was sent SIGTERM and, after the grace period, SIGKILL.
    ///
    /// It is also true when the program itself exited in time but a process
    /// it left behind kept the output pipes open past the timeout.
    public var timedOut: Bool

    public init(status: TerminationStatus, standardOutput: CapturedOutput, standardError: CapturedOutput, timedOut: Bool) {
        self.status = status
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.timedOut = timedOut
    }
}

/// A failure to start a child process.
public enum ChildProcessError: Error, Hashable, CustomStringConvertible {
    /// No executable file was found in `searchPath`, the `PATH` searched, which is nil for a path with a slash.
    case executableNotFound(name: String, searchPath: String?)
    /// posix_spawn failed with this errno.
    case spawnFailed(executable: String, errno: Int32)
    /// A system call needed to set up the child failed with this errno.
    case systemCallFailed(name: String, errno: Int32)
    /// A string for argv or the environment contains a NUL byte, which C strings cannot carry.
    case containsNulByte(field: String)
    /// An environment variable name is empty or contains '='.
    case invalidEnvironmentName(String)
    /// This C library lacks a function berth needs.
    case unsupported(feature: String)

    public var description: String {
        switch self {
        case .executableNotFound(let name, nil):
            return "executable \(name) not found or not executable"
        case .executableNotFound(let name, let searchPath?):
            return "executable \(name) not found in PATH \"\(searchPath)\". Install it or set PATH in the child's environment"
        case .spawnFailed(let executable, let code):
            return "could not start \(executable): \(String(cString: strerror(code))) (errno \(code))"
        case .systemCallFailed(let name, let code):
            return "\(name) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .containsNulByte(let field):
            return "\(field) contains a NUL byte, which cannot be passed to a child process"
        case .invalidEnvironmentName(let name):
            return "environment variable name \"\(name)\" is invalid; a name is not empty and has no '='"
        case .unsupported(let feature):
            return "this C library lacks \(feature), which berth needs to start child processes"
        }
    }
}

import BerthCore
import BerthStore

/// Why the daemon itself stopped a container. Recorded before any signal is
/// sent, so that the outcome is classified by the daemon's intent first and
/// by the exit code only when the daemon had none.
public enum StopIntent: String, Sendable, CaseIterable {
    case timeout
    case cancel
    /// Drain at shutdown: the job goes back to the queue without using an attempt.
    case drain
    /// The job's workspace grew past its disk quota.
    case workspaceQuota = "workspace_quota"
    /// Another worker took over the job; this worker only cleans up.
    case leaseLost = "lease_lost"
}

/// What the engine reported about a container after it stopped.
public struct ContainerExit: Sendable, Equatable {
    public var exitCode: Int32?
    /// The engine's out-of-memory flag. An exit code of 137 alone only means SIGKILL.
    public var oomKilled: Bool
    /// The container no longer exists, so nothing is known about how it ended.
    public var vanished: Bool
    /// The reason the container's init could not execute the job's command,
    /// such as "No such file or directory"; nil when the command ran.
    public var commandNotExecuted: String?

    public init(exitCode: Int32?, oomKilled: Bool = false, vanished: Bool = false, commandNotExecuted: String? = nil) {
        self.exitCode = exitCode
        self.oomKilled = oomKilled
        self.vanished = vanished
        self.commandNotExecuted = commandNotExecuted
    }

    /// Returns the reason in the message that the init, catatonit, prints
    /// when it cannot execute the command, or nil for any other output.
    ///
    /// berth runs every container with `--init`, so runc starts catatonit
    /// and a missing or non-executable program is not an OCI runtime error
    /// with podman's exit codes 126 and 127. Catatonit 0.1.7 prints one line,
    /// `ERROR (catatonit:PID): failed to exec pid1: REASON`, and exits with 1.
    /// Only an attempt whose whole output is that line on standard error is
    /// taken for it, because the job printed nothing at all.
    public static func initFailure(exitCode: Int32?, standardOutputLines: Int64, standardErrorLines: [String]) -> String? {
        guard exitCode == 1, standardOutputLines == 0, standardErrorLines.count == 1, let line = standardErrorLines.first,
            line.hasPrefix("ERROR (catatonit:")
        else { return nil }
        let marker = "): failed to exec pid1: "
        guard let range = line.range(of: marker) else { return nil }
        let reason = line[range.upperBound...]
        return reason.isEmpty ? nil : String(reason)
    }
}

/// Decides how an attempt ended from the daemon's intent and the engine's report.
public enum AttemptOutcomeClassifier {
    public static func classify(intent: StopIntent?, exit: ContainerExit) -> AttemptResult {
        let code = exit.exitCode
        switch intent {
        case .timeout?:
            return AttemptResult(outcome: .timedOut, exitCode: code, message: "stopped at its wall-clock timeout")
        case .cancel?:
            return AttemptResult(outcome: .cancelled, exitCode: code, message: "cancelled by an operator")
        case .drain?:
            return AttemptResult(outcome: .interrupted, exitCode: code, message: "stopped by the daemon's drain")
        case .workspaceQuota?:
            return AttemptResult(outcome: .failed, exitCode: code, message: "stopped because the workspace exceeded its disk quota")
        case .leaseLost?:
            return AttemptResult(outcome: .lost, exitCode: code, message: "stopped because this worker lost the job's lease")
        case nil:
            break
        }

        if exit.vanished {
            return AttemptResult(outcome: .lost, exitCode: nil, message: "the container disappeared")
        }
        if exit.oomKilled {
            return AttemptResult(outcome: .outOfMemory, exitCode: code, message: "killed by the engine for exceeding its memory limit")
        }
        if let reason = exit.commandNotExecuted {
            return AttemptResult(
                outcome: .startFailed, exitCode: code,
                message: "the command could not be executed: \(reason); check the command and that the image contains it")
        }
        switch code {
        case 0?:
            return AttemptResult(outcome: .succeeded, exitCode: 0)
        case let code?:
            let meaning = code > 128 && code < 160 ? " (killed by signal \(code - 128))" : ""
            return AttemptResult(outcome: .failed, exitCode: code, message: "exited with code \(code)\(meaning)")
        case nil:
            return AttemptResult(outcome: .lost, exitCode: nil, message: "the engine reported no exit code")
        }
    }
}

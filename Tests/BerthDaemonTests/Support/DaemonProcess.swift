import Foundation
import Testing

/// A `berth daemon` child process with its standard output and error in one log file.
final class DaemonProcess {
    let pid: pid_t
    let workerID: String
    let logPath: String
    private(set) var exitStatus: Int32?

    private init(pid: pid_t, workerID: String, logPath: String) {
        self.pid = pid
        self.workerID = workerID
        self.logPath = logPath
    }

    /// Starts `berth arguments` with `environment` as its whole environment.
    static func start(
        binary: String, arguments: [String], environment: [String: String], workerID: String, logPath: String
    ) throws -> DaemonProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        // A group of its own, so that a Ctrl-C meant for the test run does not reach it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaultSignals = sigset_t()
        sigfillset(&defaultSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)

        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, binary, &actions, &attributes, argv, envp)
        guard code == 0 else {
            throw TestFailure("cannot start \(binary): \(String(cString: strerror(code)))")
        }
        return DaemonProcess(pid: pid, workerID: workerID, logPath: logPath)
    }

    /// Everything the daemon has logged so far.
    var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// True until the process has exited and been reaped.
    var isRunning: Bool {
        reap(blocking: false)
        return exitStatus == nil
    }

    func signal(_ number: Int32) {
        guard isRunning else { return }
        kill(pid, number)
    }

    /// Waits for the process to exit and returns its exit status, 128 + N for signal N.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        try await waitUntil("daemon \(workerID) (pid \(pid)) has exited", timeout: timeout, interval: .milliseconds(50)) {
            !isRunning
        }
        return exitStatus!
    }

    /// Waits until the log contains `text`.
    func waitForLog(_ text: String, timeout: Duration = .seconds(30)) async throws {
        try await waitUntil("the log of daemon \(workerID) contains \"\(text)\"", timeout: timeout) {
            log.contains(text)
        }
    }

    /// Kills the process with SIGKILL unless it has exited, and reaps it.
    func killAndReap() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        reap(blocking: true)
    }

    private func reap(blocking: Bool) {
        guard exitStatus == nil else { return }
        var status: Int32 = 0
        var reaped: pid_t
        repeat {
            reaped = waitpid(pid, &status, blocking ? 0 : WNOHANG)
        } while reaped < 0 && errno == EINTR
        guard reaped == pid else { return }
        // The low 7 bits contain the terminating signal, 0 for a normal exit.
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

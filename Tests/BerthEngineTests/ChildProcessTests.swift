import Foundation
import Glibc
import Synchronization
import Testing

@testable import BerthEngine

@Suite("ChildProcess")
struct ChildProcessTests {
    @Test("exit status and output")
    func exitStatusAndOutput() async throws {
        let result = try await ChildProcess.run(shell("echo out; echo err >&2; exit 3"), timeout: .seconds(10))

        #expect(result.status == .exited(3))
        #expect(result.standardOutput.text == "out\n")
        #expect(result.standardError.text == "err\n")
        #expect(!result.timedOut)
    }

    @Test("killed by a signal")
    func killedBySignal() async throws {
        let result = try await ChildProcess.run(shell("kill -KILL $$"), timeout: .seconds(10))

        #expect(result.status == .signaled(SIGKILL))
        #expect(result.status.description == "killed by signal 9 (SIGKILL)")
    }

    @Test("large output on both streams without deadlock")
    func largeOutputOnBothStreams() async throws {
        // Each stream carries far more than the 64 KiB a pipe buffers, and the writes
        // alternate, so a parent that read one pipe at a time would block the child.
        let script = """
            i=0
            while [ $i -lt 8 ]; do
              head -c 40000 /dev/zero | tr '\\0' o
              head -c 40000 /dev/zero | tr '\\0' e >&2
              i=$((i + 1))
            done
            """
        let result = try await ChildProcess.run(shell(script), timeout: .seconds(30), outputLimit: 1 << 20)

        #expect(result.status == .exited(0))
        #expect(result.standardOutput.totalByteCount == 320_000)
        #expect(result.standardError.totalByteCount == 320_000)
        #expect(result.standardOutput.bytes.allSatisfy { $0 == UInt8(ascii: "o") })
        #expect(result.standardError.bytes.allSatisfy { $0 == UInt8(ascii: "e") })
    }

    @Test("captured output stops at the limit")
    func captureLimit() async throws {
        let result = try await ChildProcess.run(
            shell("head -c 100000 /dev/zero | tr '\\0' x"), timeout: .seconds(10), outputLimit: 1000)

        #expect(result.standardOutput.bytes.count == 1000)
        #expect(result.standardOutput.totalByteCount == 100_000)
        #expect(result.standardOutput.isTruncated)
    }

    @Test("environment is exactly the one passed")
    func exactEnvironment() async throws {
        let environment = ["ONLY_THIS": "1", "SPACED": "two words", "EMPTY": ""]
        let command = ProcessCommand(executable: "/usr/bin/env", environment: environment)
        let result = try await ChildProcess.run(command, timeout: .seconds(10))

        let lines = result.standardOutput.text.split(separator: "\n").map(String.init)
        #expect(result.status == .exited(0))
        #expect(Set(lines) == ["ONLY_THIS=1", "SPACED=two words", "EMPTY="])
    }

    @Test("bare name is looked up in the child's PATH")
    func lookupUsesChildPath() async throws {
        let command = ProcessCommand(executable: "true", environment: ["PATH": "/nonexistent:/bin"])
        #expect(try command.resolvedExecutablePath() == "/bin/true")

        let withoutPath = ProcessCommand(executable: "true", environment: [:])
        #expect(throws: ChildProcessError.executableNotFound(name: "true", searchPath: "")) {
            try withoutPath.resolvedExecutablePath()
        }
    }

    @Test("missing executable is a typed error")
    func missingExecutable() async throws {
        let command = ProcessCommand(executable: "/nonexistent/berth-no-such-tool", environment: testEnvironment)
        await #expect(throws: ChildProcessError.executableNotFound(name: "/nonexistent/berth-no-such-tool", searchPath: nil)) {
            try await ChildProcess.run(command, timeout: .seconds(5))
        }
    }

    @Test("NUL byte in an argument is rejected")
    func nulByteRejected() async throws {
        await #expect(throws: ChildProcessError.containsNulByte(field: "argument 2")) {
            try await ChildProcess.run(shell("a\u{0}b"), timeout: .seconds(5))
        }
    }

    @Test("working directory")
    func workingDirectory() async throws {
        var command = shell("pwd")
        command.workingDirectory = "/usr"
        let result = try await ChildProcess.run(command, timeout: .seconds(10))

        #expect(result.standardOutput.text == "/usr\n")
    }

    @Test("stdin is /dev/null")
    func standardInputIsEmpty() async throws {
        let result = try await ChildProcess.run(shell("wc -c; readlink /proc/self/fd/0"), timeout: .seconds(10))

        #expect(result.standardOutput.text.split(separator: "\n") == ["0", "/dev/null"])
    }

    @Test("only stdin, stdout and stderr are open in the child")
    func noLeakedDescriptors() async throws {
        // A descriptor opened without close-on-exec, as other code in the daemon might.
        let leaked = open("/dev/null", O_RDONLY)
        defer { close(leaked) }
        #expect(leaked > 2)

        let result = try await ChildProcess.run(
            ProcessCommand(executable: "/bin/ls", arguments: ["/proc/self/fd"], environment: testEnvironment),
            timeout: .seconds(10))

        // ls itself opens one descriptor to read the directory.
        let open = result.standardOutput.text.split(separator: "\n").compactMap { Int32($0) }.filter { $0 > 2 }
        #expect(open.count <= 1)
        #expect(!open.contains(leaked))
    }

    @Test("child leads its own process group")
    func ownProcessGroup() async throws {
        let result = try await ChildProcess.run(shell("cut -d' ' -f5 /proc/$$/stat; echo $$"), timeout: .seconds(10))

        let fields = result.standardOutput.text.split(separator: "\n")
        #expect(fields.count == 2)
        #expect(fields.first == fields.last)
        #expect(fields.first.map(String.init) != String(getpgrp()))
    }

    @Test("signal mask and ignored signals are reset")
    func signalStateReset() async throws {
        // Block SIGTERM in this thread and ignore SIGINT in the process: both are
        // inherited across exec unless posix_spawn resets them.
        var blockTerm = sigset_t()
        sigemptyset(&blockTerm)
        sigaddset(&blockTerm, SIGTERM)
        var previousMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blockTerm, &previousMask)
        let previousInterrupt = signal(SIGINT, SIG_IGN)

        let process: ChildProcess
        let output = Mutex<[String]>([])
        do {
            defer {
                pthread_sigmask(SIG_SETMASK, &previousMask, nil)
                signal(SIGINT, previousInterrupt)
            }
            process = try ChildProcess.start(
                shell("grep -E '^Sig(Blk|Ign)' /proc/self/status; exec sleep 30"),
                onLine: { line in output.withLock { $0.append(line.text) } })
        }

        // Wait for the two status lines before signalling.
        let deadline = ContinuousClock.now + .seconds(10)
        while output.withLock({ $0.count }) < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let masks = Dictionary(
            output.withLock { $0 }.map { line in
                let fields = line.split(separator: "\t")
                return (String(fields[0]), UInt64(fields[1], radix: 16) ?? .max)
            }, uniquingKeysWith: { first, _ in first })
        // glibc's posix_spawn ignores its internal signals 32 and 33 in the child.
        let glibcInternalSignals: UInt64 = 0x1_8000_0000
        #expect(masks["SigBlk:"] == 0)
        #expect(masks["SigIgn:"].map { $0 & ~glibcInternalSignals } == 0)

        #expect(process.signalGroup(SIGTERM))
        let status = await process.waitForCompletion(timeout: .seconds(10))
        #expect(status == .signaled(SIGTERM))
    }

    @Test("timeout kills the process group including a grandchild")
    func timeoutKillsGroup() async throws {
        // The grandchild prints its pid, then both it and the shell sleep.
        let script = "sleep 300 & echo $!; sleep 300"
        let started = ContinuousClock.now
        let result = try await ChildProcess.run(shell(script), timeout: .milliseconds(500), killGracePeriod: .seconds(5))
        let elapsed = ContinuousClock.now - started

        #expect(result.timedOut)
        #expect(result.status == .signaled(SIGTERM))
        // Far below the 300 s the script would sleep; generous because other
        // tests may hold both threads of a two-core machine's pool for a while.
        #expect(elapsed < .seconds(60))
        let grandchild = try #require(pid_t(result.standardOutput.text.trimmingCharacters(in: .whitespacesAndNewlines)))
        try await waitUntilGone(grandchild)
        #expect(!isAlive(grandchild))
    }

    @Test("SIGKILL follows when SIGTERM is ignored")
    func killAfterGracePeriod() async throws {
        let script = "trap '' TERM; echo ready; sleep 300"
        let started = ContinuousClock.now
        let result = try await ChildProcess.run(
            shell(script), timeout: .milliseconds(300), killGracePeriod: .milliseconds(500))
        let elapsed = ContinuousClock.now - started

        #expect(result.timedOut)
        #expect(result.status == .signaled(SIGKILL))
        #expect(elapsed >= .milliseconds(800))
        // Far below the 300 s the script would sleep; generous because other
        // tests may hold both threads of a two-core machine's pool for a while.
        #expect(elapsed < .seconds(60))
    }

    @Test("leftover process holding the pipe ends at the timeout")
    func leftoverHoldsPipe() async throws {
        // The shell exits at once, but the background sleep keeps stdout open.
        let result = try await ChildProcess.run(
            shell("sleep 300 & echo $!; exit 4"), timeout: .milliseconds(500), killGracePeriod: .seconds(2))

        #expect(result.status == .exited(4))
        #expect(result.timedOut)
        let leftover = try #require(pid_t(result.standardOutput.text.trimmingCharacters(in: .whitespacesAndNewlines)))
        try await waitUntilGone(leftover)
        #expect(!isAlive(leftover))
    }

    @Test("cancelling run kills the child")
    func cancellationKills() async throws {
        let pidFile = try makeTemporaryDirectory().appendingPathComponent("pid")
        let task = Task {
            try await ChildProcess.run(shell("echo $$ > \(pidFile.path); exec sleep 300"), timeout: .seconds(60))
        }
        var pidText = ""
        for _ in 0..<200 where pidText.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            pidText = (try? String(contentsOf: pidFile, encoding: .utf8)) ?? ""
        }
        let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))

        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(!isAlive(pid))
        try? FileManager.default.removeItem(at: pidFile.deletingLastPathComponent())
    }

    @Test("streaming keeps stdout and stderr apart")
    func streamingSeparatesStreams() async throws {
        let script = "echo one; echo two >&2; printf 'three'; printf 'four\\r\\n' >&2"
        let (process, lines) = try ChildProcess.startStreamingLines(shell(script))
        var received: [OutputLine] = []
        for await line in lines {
            received.append(line)
        }
        let status = try await process.waitForCompletion()

        #expect(status == .exited(0))
        #expect(received.filter { $0.stream == .standardOutput }.map(\.text) == ["one", "three"])
        #expect(received.filter { $0.stream == .standardError }.map(\.text) == ["two", "four"])
        #expect(received.first { $0.text == "three" }?.line.isUnterminated == true)
    }

    @Test("streaming cuts long lines")
    func streamingCutsLongLines() async throws {
        let script = "head -c 300000 /dev/zero | tr '\\0' x; echo; echo after"
        let (process, lines) = try ChildProcess.startStreamingLines(shell(script), maximumLineBytes: 1000)
        var received: [OutputLine] = []
        for await line in lines {
            received.append(line)
        }
        _ = try await process.waitForCompletion()

        #expect(received.count == 2)
        #expect(received.first?.line.isTruncated == true)
        #expect(received.first?.text.utf8.count == 1000)
        #expect(received.last?.text == "after")
    }

    /// Waits for a process that was signalled to disappear, because its parent or init reaps it a little later.
    private func waitUntilGone(_ pid: pid_t) async throws {
        for _ in 0..<100 where isAlive(pid) {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

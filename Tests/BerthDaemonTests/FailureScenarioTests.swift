import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    /// Each way an attempt can fail, and what the retry policy makes of it.
    @Suite struct FailureScenarios {
        @Test func exitCodeRetriesUntilDead() async throws {
            let sandbox = try DaemonSandbox()
            // Backoff 1 s, then 2 s, without jitter.
            try sandbox.startDaemon(overrides: ["defaultQueue": ["retry": ["maxAttempts": 3, "multiplier": 2]]])
            let id = try await sandbox.submit(["berth-test-job", "stderr", "failing", "exit", "3"])

            let job = try await sandbox.waitForState(id, [.dead, .succeeded], timeout: .seconds(60))
            #expect(job.state == .dead)
            #expect(job.attemptsUsed == 3)
            #expect(job.lastError?.contains("all 3 attempts used") == true, "lastError: \(job.lastError ?? "nil")")

            let attempts = try sandbox.attempts(id)
            try #require(attempts.count == 3)
            for attempt in attempts {
                #expect(attempt.outcome == .failed)
                #expect(attempt.exitCode == 3)
                #expect(attempt.message == "exited with code 3")
            }
            try expectBackoff(attempts[0], attempts[1], atLeast: 1000)
            try expectBackoff(attempts[1], attempts[2], atLeast: 2000)
            #expect(try sandbox.logs(id).map(\.attempt) == [1, 2, 3])
        }

        @Test func neverRetryExitCodeBuriesAtOnce() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let image = try await TestImage.require()
            let spec = #"{"image":"\#(image)","command":["berth-test-job","exit","42"],"retry":{"maxAttempts":5,"neverRetryExitCodes":[42]}}"#
            let submitted = try await sandbox.berth(["submit", "--spec", spec])
            let id = try #require(Int64(submitted.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)), "\(submitted)")

            let job = try await sandbox.waitForState(id, [.dead, .succeeded, .failed])
            #expect(job.state == .dead)
            #expect(job.attemptsUsed == 1)
            #expect(job.lastError?.contains("neverRetryExitCodes") == true, "lastError: \(job.lastError ?? "nil")")
            let attempts = try sandbox.attempts(id)
            #expect(attempts.count == 1)
            #expect(attempts.first?.exitCode == 42)
        }

        @Test func memoryLimitEndsAsOutOfMemory() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let id = try await sandbox.submit(["berth-test-job", "memory-hog"], options: ["--memory", "16m", "--max-attempts", "2"])

            let job = try await sandbox.waitForState(id, [.dead, .succeeded], timeout: .seconds(60))
            #expect(job.state == .dead)
            let attempts = try sandbox.attempts(id)
            #expect(attempts.count == 2, "an out-of-memory attempt is retried")
            for attempt in attempts {
                #expect(attempt.outcome == .outOfMemory)
            }
            #expect(try sandbox.logs(id).allSatisfy { !$0.line.contains("survived") })
        }

        @Test func missingImageIsStartFailedWithoutRetry() async throws {
            let sandbox = try DaemonSandbox()
            let daemon = try sandbox.startDaemon()
            let image = "localhost/berth-no-such-image:\(sandbox.prefix)"
            let submitted = try await sandbox.berth(["submit", "--image", image, "--max-attempts", "3", "--", "true"])
            let id = try #require(Int64(submitted.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)), "\(submitted)")

            let job = try await sandbox.waitForState(id, [.dead, .succeeded, .failed])
            #expect(job.state == .dead)
            let attempts = try sandbox.attempts(id)
            try #require(attempts.count == 1)
            #expect(attempts[0].outcome == .startFailed)
            #expect(attempts[0].message?.contains(image) == true, "message: \(attempts[0].message ?? "nil")")
            #expect(attempts[0].startedAt == nil)

            // The engine stays healthy: a missing image is the job's fault.
            #expect(!daemon.log.contains("unhealthy"))
            #expect(try await sandbox.containers(ofWorker: daemon.workerID).isEmpty)
        }

        @Test func missingProgramIsStartFailedWithoutRetry() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let id = try await sandbox.submit(["/no/such/program", "--flag"], options: ["--max-attempts", "3"])

            let job = try await sandbox.waitForState(id, [.dead, .succeeded, .failed])
            #expect(job.state == .dead)
            let attempts = try sandbox.attempts(id)
            try #require(attempts.count == 1)
            #expect(attempts[0].outcome == .startFailed)
            #expect(attempts[0].message?.contains("No such file or directory") == true, "message: \(attempts[0].message ?? "nil")")

            // A program that runs and fails with the same exit code is still a failure that is retried.
            let failing = try await sandbox.submit(["berth-test-job", "stderr", "not found", "exit", "1"], options: ["--max-attempts", "2"])
            let failed = try await sandbox.waitForState(failing, [.dead, .succeeded])
            #expect(failed.state == .dead)
            #expect(try sandbox.attempts(failing).map(\.outcome) == [.failed, .failed])
        }

        @Test func missingSecretIsStartFailed() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let id = try await sandbox.submit(["berth-test-job", "exit", "0"], options: ["--secret", "NOT_SET_ANYWHERE"])

            let job = try await sandbox.waitForState(id, [.dead, .succeeded, .failed])
            #expect(job.state == .dead)
            let attempt = try #require(try sandbox.attempts(id).first)
            #expect(attempt.outcome == .startFailed)
            #expect(attempt.message?.contains("secret NOT_SET_ANYWHERE not found") == true, "message: \(attempt.message ?? "nil")")
        }

        /// Checks that `next` was claimed no sooner than `milliseconds` after
        /// `previous` finished, and not much later either.
        private func expectBackoff(
            _ previous: AttemptRecord, _ next: AttemptRecord, atLeast milliseconds: Int64,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let finished = try #require(previous.finishedAt, sourceLocation: sourceLocation)
            let gap = next.claimedAt - finished
            #expect(gap >= milliseconds, "attempt \(next.attempt) was claimed \(gap) ms after the one before", sourceLocation: sourceLocation)
            #expect(gap < milliseconds + 3000, "attempt \(next.attempt) was claimed \(gap) ms after the one before", sourceLocation: sourceLocation)
        }
    }
}

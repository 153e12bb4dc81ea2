import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    /// Jobs the daemon stops itself: at the timeout and at an operator's cancel.
    /// Both jobs ignore SIGTERM, so only the kill after stopGrace (2 s) ends them.
    @Suite struct StopScenarios {
        @Test func timeoutKillsJobThatIgnoresTerm() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let id = try await sandbox.submit(
                ["berth-test-job", "ignore-term", "stdout", "ignoring", "sleep", "60"],
                options: ["--timeout", "2s", "--max-attempts", "1"])

            let job = try await sandbox.waitForState(id, [.dead, .succeeded, .cancelled])
            #expect(job.state == .dead)
            let attempt = try #require(try sandbox.attempts(id).first)
            #expect(attempt.outcome == .timedOut)
            #expect(attempt.stopIntent == "timeout")

            // Two seconds to the timeout, then up to two of grace before the kill.
            let started = try #require(attempt.startedAt)
            let finished = try #require(attempt.finishedAt)
            #expect(finished - started >= 3500, "ran \(finished - started) ms")
            #expect(finished - started < 10_000, "ran \(finished - started) ms")

            let containerID = try #require(attempt.containerID)
            try await waitUntil("the timed-out container is removed") {
                try await !sandbox.containerExists(containerID)
            }
        }

        @Test func cancelStopsRunningJobWithinGrace() async throws {
            let sandbox = try DaemonSandbox()
            let daemon = try sandbox.startDaemon()
            let id = try await sandbox.submit(["berth-test-job", "ignore-term", "sleep", "60"])
            let running = try await sandbox.waitForRunningContainer(id)

            let cancelledAt = Clock.nowMilliseconds()
            let cancel = try await sandbox.berth(["cancel", "\(id)"])
            #expect(cancel.status == 0, "\(cancel)")
            #expect(cancel.standardOutput.contains("cancel requested"))

            let job = try await sandbox.waitForState(id, [.cancelled, .dead, .succeeded])
            #expect(job.state == .cancelled)
            #expect(job.attemptsUsed == 1)

            // The daemon's own timestamp, so that a busy test process cannot stretch it:
            // stopGrace (2 s) plus one heartbeat (1 s), with a little slack for podman.
            let attempt = try #require(try sandbox.attempts(id).first)
            let stoppedAfter = try #require(attempt.finishedAt) - cancelledAt
            #expect(stoppedAfter >= 1500, "the job ignores SIGTERM, so only the kill after the grace ends it")
            #expect(stoppedAfter < 6000, "stopped \(stoppedAfter) ms after the cancel")
            #expect(attempt.outcome == .cancelled)
            #expect(attempt.stopIntent == "cancel")
            let containerID = try #require(running.containerID)
            try await waitUntil("the cancelled container is removed") {
                try await !sandbox.containerExists(containerID)
            }
            #expect(daemon.log.contains("stopping container"))
        }
    }
}

import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    /// What a restarted daemon finds of its killed predecessor's job: a
    /// container that exited meanwhile, one that was removed, and one whose
    /// stop was recorded but never carried out.
    @Suite struct AdoptionScenarios {
        @Test func exitedWhileDownIsCollected() async throws {
            let sandbox = try DaemonSandbox()
            let first = try sandbox.startDaemon()
            // The job sleeps long enough to be seen running even when a loaded
            // host takes a second or more to start its container.
            let id = try await sandbox.submit(["berth-test-job", "stdout", "started", "sleep", "3", "stdout", "finished", "exit", "0"])
            let attempt = try await sandbox.waitForRunningContainer(id)
            try await waitUntil("job \(id) printed started") { try !sandbox.events(id).isEmpty }

            first.signal(SIGKILL)
            try await first.waitForExit()
            let containerID = try #require(attempt.containerID)
            try await waitUntil("the container exited while no daemon ran") {
                let state = try await sandbox.inspect(containerID)["State"] as? [String: Any]
                return state?["Running"] as? Bool == false
            }

            let second = try sandbox.startDaemon()
            let job = try await sandbox.waitForState(id, [.succeeded, .dead, .failed])
            #expect(job.state == .succeeded)
            #expect(try sandbox.events(id).map(\.payload) == ["started", "finished"])
            let attempts = try sandbox.attempts(id)
            #expect(attempts.count == 1)
            #expect(attempts.first?.exitCode == 0)
            try await waitUntil("the collected container is removed") {
                try await !sandbox.containerExists(containerID)
            }
            #expect(second.log.contains("adopted container"))
        }

        @Test func removedWhileDownIsLostAndRetried() async throws {
            let sandbox = try DaemonSandbox()
            let first = try sandbox.startDaemon()
            let id = try await sandbox.submit(
                ["sh", "-c", #"echo "attempt $BERTH_ATTEMPT"; if [ "$BERTH_ATTEMPT" = 1 ]; then sleep 60; fi"#])
            let attempt = try await sandbox.waitForRunningContainer(id)

            first.signal(SIGKILL)
            try await first.waitForExit()
            let removed = try await sandbox.podman(["rm", "--force", "--time=0", try #require(attempt.containerID)])
            try #require(removed.status == 0, "\(removed)")

            let second = try sandbox.startDaemon()
            let job = try await sandbox.waitForState(id, [.succeeded, .dead])
            #expect(job.state == .succeeded)
            #expect(second.log.contains("the container of a job vanished while the daemon was down"))
            let attempts = try sandbox.attempts(id)
            try #require(attempts.count == 2)
            #expect(attempts[0].outcome == .lost)
            #expect(attempts[0].message == "the container disappeared while the daemon was down")
            #expect(attempts[1].outcome == .succeeded)
        }

        @Test func adoptedJobKeepsItsTimeout() async throws {
            let sandbox = try DaemonSandbox()
            let first = try sandbox.startDaemon()
            let id = try await sandbox.submit(["sleep", "60"], options: ["--timeout", "5s", "--max-attempts", "1"])
            let attempt = try await sandbox.waitForRunningContainer(id)

            first.signal(SIGKILL)
            try await first.waitForExit()
            // No daemon runs for 2 s, which the timeout must include.
            try await Task.sleep(for: .seconds(2))
            try sandbox.startDaemon()

            // Measured from the container's start, not from the adoption 2 s later.
            let job = try await sandbox.waitForState(id, [.dead, .succeeded, .failed], timeout: .seconds(20))
            #expect(job.state == .dead)
            let finished = try #require(try sandbox.attempts(id).first)
            #expect(finished.outcome == .timedOut)
            let runTime = try #require(finished.finishedAt) - (try #require(attempt.startedAt))
            // The adopting daemon counts from the container's own start, which
            // comes up to the time that `run --detach` takes to return before
            // the start the first daemon recorded.
            #expect(runTime >= 4700, "ran \(runTime) ms")
            #expect(runTime < 6500, "ran \(runTime) ms")
        }

        /// Under systemd a crash ends the daemon's whole control group, so the
        /// `podman stop` it had started dies with it; the test kills it by hand.
        @Test func recordedCancelIsCarriedOutAfterCrash() async throws {
            let sandbox = try DaemonSandbox()
            let first = try sandbox.startDaemon(overrides: ["defaultQueue": ["stopGrace": "30s"]])
            let id = try await sandbox.submit(["berth-test-job", "ignore-term", "sleep", "60"])
            let attempt = try await sandbox.waitForRunningContainer(id)
            let containerID = try #require(attempt.containerID)

            _ = try await sandbox.berth(["cancel", "\(id)"])
            try await waitUntil("the cancel is recorded as the stop intent") {
                try sandbox.attempts(id).first?.stopIntent == "cancel"
            }
            try await waitUntil("the daemon runs podman stop") {
                !Processes.pids { $0.contains("stop") && $0.contains(containerID) }.isEmpty
            }
            first.signal(SIGKILL)
            try await first.waitForExit()
            for pid in Processes.pids(whereArguments: { $0.contains("stop") && $0.contains(containerID) }) {
                kill(pid, SIGKILL)
            }

            let restartedAt = Clock.nowMilliseconds()
            let second = try sandbox.startDaemon()
            let job = try await sandbox.waitForState(id, [.cancelled, .dead, .succeeded])
            #expect(job.state == .cancelled)
            let cancelled = try #require(try sandbox.attempts(id).first)
            #expect(cancelled.outcome == .cancelled)
            // The restarted daemon's stopGrace is 2 s, and the job would sleep for 60 s.
            let stoppedAfter = try #require(cancelled.finishedAt) - restartedAt
            #expect(stoppedAfter < 10_000, "stopped \(stoppedAfter) ms after the restart")
            #expect(second.log.contains("stopping container"))
        }
    }
}

import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    /// A daemon that dies or shuts down while its job runs, and the daemon after it.
    @Suite struct RestartScenarios {
        @Test func killedDaemonIsAdoptedAfterRestart() async throws {
            let sandbox = try DaemonSandbox()
            let first = try sandbox.startDaemon()
            let id = try await sandbox.submit(["berth-test-job", "events", "20", "0.2", "exit", "0"])
            let attempt = try await sandbox.waitForRunningContainer(id)
            try await waitUntil("job \(id) stored 3 events") { try sandbox.events(id).count >= 3 }

            first.signal(SIGKILL)
            #expect(try await first.waitForExit().code == 128 + SIGKILL)
            let storedBeforeRestart = try sandbox.events(id).count
            let containerID = try #require(attempt.containerID)
            let state = try #require(try await sandbox.inspect(containerID)["State"] as? [String: Any])
            #expect(state["Running"] as? Bool == true, "the container outlives its daemon")

            let second = try sandbox.startDaemon()
            #expect(second.workerID == first.workerID)
            let job = try await sandbox.waitForState(id, [.succeeded, .dead, .failed])
            #expect(job.state == .succeeded)
            #expect(second.log.contains("adopted container"))

            let events = try sandbox.events(id)
            #expect(storedBeforeRestart < 20, "the daemon was killed while the job still printed")
            #expect(events.map(\.sequence) == Array(1...20), "no gap and no duplicate")
            #expect(events.map(\.payload) == (1...20).map { #"{"event":"tick","n":\#($0)}"# })
            let attempts = try sandbox.attempts(id)
            #expect(attempts.count == 1)
            #expect(attempts.first?.outcome == .succeeded)
            #expect(job.attemptsUsed == 1)
        }

        @Test func drainRequeuesWithoutUsingAnAttempt() async throws {
            let sandbox = try DaemonSandbox()
            let first = try sandbox.startDaemon()
            // Only the first attempt takes long, so the job finishes once a daemon runs it again.
            let id = try await sandbox.submit(
                ["sh", "-c", #"echo "attempt $BERTH_ATTEMPT"; if [ "$BERTH_ATTEMPT" = 1 ]; then sleep 60; fi"#])
            let running = try await sandbox.waitForRunningContainer(id)

            first.signal(SIGTERM)
            // stopGrace is 2 s; sleep ends on SIGTERM, so the drain is quicker.
            #expect(try await first.waitForExit(timeout: .seconds(15)).code == 0)
            #expect(first.log.contains("shutting down: draining running jobs"))

            let drained = try sandbox.job(id)
            #expect(drained.state == .queued)
            #expect(drained.attemptsUsed == 0)
            let interrupted = try #require(try sandbox.attempts(id).first)
            #expect(interrupted.outcome == .interrupted)
            #expect(interrupted.stopIntent == "drain")
            #expect(try await !sandbox.containerExists(try #require(running.containerID)))

            try sandbox.startDaemon("b")
            let job = try await sandbox.waitForState(id, [.succeeded, .dead, .failed])
            #expect(job.state == .succeeded)
            #expect(job.attemptsUsed == 1)
            #expect(try sandbox.attempts(id).map(\.outcome) == [.interrupted, .succeeded])
            #expect(try sandbox.events(id).map(\.payload) == ["attempt 1", "attempt 2"])
        }

        @Test func detachLeavesContainerForNextDaemon() async throws {
            let sandbox = try DaemonSandbox()
            let detachMode: [String: Any] = ["shutdown": ["mode": "detach"]]
            let first = try sandbox.startDaemon(overrides: detachMode)
            let id = try await sandbox.submit(["berth-test-job", "events", "15", "0.2", "exit", "0"])
            let attempt = try await sandbox.waitForRunningContainer(id)
            try await waitUntil("job \(id) stored 2 events") { try sandbox.events(id).count >= 2 }

            first.signal(SIGTERM)
            #expect(try await first.waitForExit(timeout: .seconds(10)).code == 0)
            #expect(first.log.contains("detached from container"))
            let containerID = try #require(attempt.containerID)
            let state = try #require(try await sandbox.inspect(containerID)["State"] as? [String: Any])
            #expect(state["Running"] as? Bool == true)
            #expect(try sandbox.job(id).state == .running)

            let second = try sandbox.startDaemon(overrides: detachMode)
            let job = try await sandbox.waitForState(id, [.succeeded, .dead, .failed])
            #expect(job.state == .succeeded)
            #expect(second.log.contains("adopted container"))
            #expect(try sandbox.events(id).map(\.sequence) == Array(1...15))
            #expect(try sandbox.attempts(id).count == 1)
        }
    }
}

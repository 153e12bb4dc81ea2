import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    /// Shutdowns that do not finish gracefully: a second signal, and a drain
    /// that outlasts the shutdown deadline.
    @Suite struct ShutdownScenarios {
        /// A job that ignores SIGTERM on its first attempt and finishes at once on the next.
        static let stubbornFirstAttempt = [
            "sh", "-c", #"echo "attempt $BERTH_ATTEMPT"; if [ "$BERTH_ATTEMPT" = 1 ]; then trap '' TERM; sleep 60; fi"#,
        ]

        @Test func secondSignalExitsAtOnce() async throws {
            let sandbox = try DaemonSandbox()
            let daemon = try sandbox.startDaemon(overrides: ["defaultQueue": ["stopGrace": "30s"]])
            let id = try await sandbox.submit(Self.stubbornFirstAttempt)
            _ = try await sandbox.waitForRunningContainer(id)

            daemon.signal(SIGTERM)
            try await daemon.waitForLog("shutting down: draining running jobs")
            try await waitUntil("the drain is recorded") { try sandbox.attempts(id).first?.stopIntent == "drain" }
            #expect(daemon.isRunning, "the drain waits for the 30 s stop grace")

            daemon.signal(SIGTERM)
            let secondSignalAt = ContinuousClock.now
            #expect(try await daemon.waitForExit(timeout: .seconds(10)).code == 0)
            #expect(ContinuousClock.now - secondSignalAt < .seconds(10), "the drain alone would wait 30 s")
            #expect(daemon.log.contains("second signal: exiting now"))
            #expect(try sandbox.job(id).state == .running, "the job stays leased for the next daemon")
        }

        /// The daemon exits at its deadline while `podman stop` waits out the
        /// stop grace. The stop must still end the container with SIGKILL,
        /// although no process reads its output any more.
        @Test func stopFinishesAfterDaemonExits() async throws {
            let sandbox = try DaemonSandbox()
            let daemon = try sandbox.startDaemon(overrides: [
                "defaultQueue": ["stopGrace": "3s"], "shutdown": ["deadline": "1s"],
            ])
            let id = try await sandbox.submit(Self.stubbornFirstAttempt)
            let containerID = try #require(try await sandbox.waitForRunningContainer(id).containerID)

            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit(timeout: .seconds(10)).code == 0)
            #expect(daemon.log.contains("shutdown deadline passed"))

            var status = ""
            let deadline = ContinuousClock.now + .seconds(20)
            while status != "exited", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                let state = try await sandbox.inspect(containerID)["State"] as? [String: Any]
                status = state?["Status"] as? String ?? ""
            }
            #expect(status == "exited", "the container stayed \(status) after the stop grace")
            _ = try await sandbox.podman(["rm", "--force", containerID])
        }

        @Test func drainPastDeadlineIsFinishedByNextDaemon() async throws {
            let sandbox = try DaemonSandbox()
            let first = try sandbox.startDaemon(overrides: [
                "defaultQueue": ["stopGrace": "30s"], "shutdown": ["deadline": "2s"],
            ])
            let id = try await sandbox.submit(Self.stubbornFirstAttempt)
            let attempt = try await sandbox.waitForRunningContainer(id)

            first.signal(SIGTERM)
            #expect(try await first.waitForExit(timeout: .seconds(10)).code == 0)
            #expect(first.log.contains("shutdown deadline passed"))
            let containerID = try #require(attempt.containerID)
            // Podman reports "stopping" while the first daemon's `podman stop` waits out its grace.
            let state = try #require(try await sandbox.inspect(containerID)["State"] as? [String: Any])
            #expect(["running", "stopping"].contains(state["Status"] as? String), "state: \(state)")

            // The next daemon carries out the recorded drain with its own 2 s grace,
            // then runs the job again without counting the drained attempt.
            try sandbox.startDaemon()
            let job = try await sandbox.waitForState(id, [.succeeded, .dead], timeout: .seconds(20))
            #expect(job.state == .succeeded)
            #expect(job.attemptsUsed == 1)
            #expect(try sandbox.attempts(id).map(\.outcome) == [.interrupted, .succeeded])
            #expect(try sandbox.events(id).map(\.payload) == ["attempt 1", "attempt 2"])
        }
    }
}

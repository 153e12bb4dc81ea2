import BerthCore
import BerthStore
import Foundation
import Testing

extension PodmanScenarios {
    /// Two berth installations on one host, each with its own database.
    @Suite struct SharedHostScenarios {
        @Test func sameJobIDInTwoDatabases() async throws {
            let jobIDBase = Int64.random(in: 1_000_000_000...9_000_000_000)
            let firstSandbox = try DaemonSandbox(jobIDBase: jobIDBase)
            let secondSandbox = try DaemonSandbox(jobIDBase: jobIDBase)
            try firstSandbox.startDaemon()
            let id = try await firstSandbox.submit(["sleep", "30"])
            let running = try await firstSandbox.waitForRunningContainer(id)
            let containerID = try #require(running.containerID)

            try secondSandbox.startDaemon()
            let secondID = try await secondSandbox.submit(["berth-test-job", "exit", "0"])
            try #require(secondID == id)
            let secondJob = try await secondSandbox.waitForState(secondID, [.succeeded, .dead, .failed])
            #expect(secondJob.state == .succeeded)

            // Container names and the orphan sweep carry each database's own id.
            #expect(try await firstSandbox.containerExists(containerID))
            #expect(try firstSandbox.job(id).state == .running)
            _ = try await firstSandbox.berth(["cancel", "\(id)"])
        }
    }
}

import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    /// Two daemons with different worker ids on one database.
    @Suite struct TwoDaemonScenarios {
        @Test func noJobRunsTwice() async throws {
            let sandbox = try DaemonSandbox()
            let limits: [String: Any] = ["concurrency": 2, "defaultQueue": ["concurrency": 2]]
            let first = try sandbox.startDaemon("a", overrides: limits)
            let second = try sandbox.startDaemon("b", overrides: limits)
            try await first.waitForLog("daemon started")
            try await second.waitForLog("daemon started")

            // Each run appends to the job's workspace, which both daemons share on this host.
            let image = try await TestImage.require()
            let command = ["sh", "-c", #"echo run >> /workspace/runs; echo "job $BERTH_JOB_ID"; sleep 0.3"#]
            let spec = try JSONSerialization.data(withJSONObject: ["image": image, "command": command], options: [.sortedKeys])
            let jobCount = 12
            let batch = try sandbox.write(Array(repeating: String(decoding: spec, as: UTF8.self), count: jobCount).joined(separator: "\n"), to: "batch.jsonl")
            let submitted = try await sandbox.berth(["submit", "--file", batch])
            try #require(submitted.status == 0, "\(submitted)")
            let ids = submitted.nonEmptyLines.compactMap { Int64($0) }
            try #require(ids.count == jobCount)

            let waited = try await sandbox.berth(["wait", "--timeout", "90s"] + ids.map(String.init))
            #expect(waited.status == 0, "\(waited)")

            var workersSeen = Set<String>()
            for id in ids {
                let attempts = try sandbox.attempts(id)
                #expect(attempts.count == 1, "job \(id) has attempts \(attempts.map(\.attempt))")
                for (earlier, later) in zip(attempts, attempts.dropFirst()) {
                    let finished = try #require(earlier.finishedAt)
                    #expect(finished <= later.claimedAt, "attempts \(earlier.attempt) and \(later.attempt) of job \(id) overlap")
                }
                workersSeen.formUnion(attempts.map(\.workerID))
                #expect(try sandbox.events(id).map(\.payload) == ["job \(id)"])
                let runs = try String(contentsOfFile: sandbox.directory.appendingPathComponent("workspaces/\(id)/runs").path, encoding: .utf8)
                #expect(runs == "run\n", "job \(id) ran \(runs.split(separator: "\n").count) times")
            }
            #expect(workersSeen == [first.workerID, second.workerID], "both daemons took jobs")
        }

        @Test func survivorRescuesJobAfterLeaseExpires() async throws {
            let sandbox = try DaemonSandbox()
            let doomed = try sandbox.startDaemon("a")
            // The first attempt hangs; the rescued second one finishes at once.
            let id = try await sandbox.submit(
                ["sh", "-c", #"echo "attempt $BERTH_ATTEMPT"; if [ "$BERTH_ATTEMPT" = 1 ]; then sleep 60; fi"#])
            let first = try await sandbox.waitForRunningContainer(id)
            #expect(first.workerID == doomed.workerID)

            let survivor = try sandbox.startDaemon("b")
            try await survivor.waitForLog("daemon started")
            let killedAt = Clock.nowMilliseconds()
            doomed.signal(SIGKILL)
            try await doomed.waitForExit()

            // Lease of 5 s, a heartbeat of 1 s, then the retry delay of 1 s.
            let job = try await sandbox.waitForState(id, [.succeeded, .dead], timeout: .seconds(30))
            #expect(job.state == .succeeded)
            #expect(survivor.log.contains("rescued job from a worker whose lease expired"))

            let attempts = try sandbox.attempts(id)
            try #require(attempts.count == 2)
            #expect(attempts[0].workerID == doomed.workerID)
            #expect(attempts[0].outcome == .lost)
            #expect(attempts[0].message?.contains("stopped renewing its lease") == true)
            let rescuedAt = try #require(attempts[0].finishedAt)
            #expect(rescuedAt - killedAt >= 0)
            #expect(rescuedAt - killedAt < 8000, "rescued \(rescuedAt - killedAt) ms after the kill")
            #expect(attempts[1].workerID == survivor.workerID)
            #expect(attempts[1].outcome == .succeeded)
            #expect(attempts[1].claimedAt >= rescuedAt)
            #expect(job.attemptsUsed == 2)
            #expect(try sandbox.events(id).map(\.payload) == ["attempt 1", "attempt 2"])
        }
    }
}

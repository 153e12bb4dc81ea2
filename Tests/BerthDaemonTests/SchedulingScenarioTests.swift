import BerthCore
import BerthStore
import Foundation
import Testing

extension PodmanScenarios {
    /// Concurrency limits and the workspace quota.
    @Suite struct SchedulingScenarios {
        @Test func concurrencyLimitsHold() async throws {
            let sandbox = try DaemonSandbox()
            let daemon = try sandbox.startDaemon(overrides: ["concurrency": 2, "queues": ["serial": ["concurrency": 1]]])
            var serialIDs: [Int64] = []
            var otherIDs: [Int64] = []
            for _ in 0..<3 {
                serialIDs.append(try await sandbox.submit(["sleep", "1"], options: ["--queue", "serial"]))
                otherIDs.append(try await sandbox.submit(["sleep", "1"]))
            }

            let waited = try await sandbox.berth(["wait", "--timeout", "60s"] + (serialIDs + otherIDs).map(String.init))
            #expect(waited.status == 0, "\(waited)")

            // A slot is taken at the claim and given back once the result is stored.
            let serial = try serialIDs.map { try #require(try sandbox.attempts($0).first) }.sorted { $0.claimedAt < $1.claimedAt }
            for (earlier, later) in zip(serial, serial.dropFirst()) {
                let finished = try #require(earlier.finishedAt)
                #expect(finished <= later.claimedAt, "jobs \(earlier.jobID) and \(later.jobID) of queue serial overlap")
            }
            let all = try (serialIDs + otherIDs).map { try #require(try sandbox.attempts($0).first) }
            // Each claim adds one running job and each finish removes one. At
            // equal times the finish counts first.
            var changes: [(at: Int64, change: Int)] = []
            for attempt in all {
                changes.append((attempt.claimedAt, 1))
                changes.append((try #require(attempt.finishedAt), -1))
            }
            changes.sort { $0.at != $1.at ? $0.at < $1.at : $0.change < $1.change }
            var running = 0
            var maximum = 0
            for entry in changes {
                running += entry.change
                maximum = max(maximum, running)
            }
            #expect(maximum == 2, "at most 2 jobs at once, and the queue of 4 fills both slots")

            // The unlisted queue of the other jobs is named once, the listed one never.
            let unlisted = daemon.log.split(separator: "\n").filter { $0.contains("is not listed in the configuration") }
            #expect(unlisted.count == 1, "\(unlisted)")
            #expect(unlisted.first?.contains("QUEUE=default") == true, "\(unlisted)")
        }

        /// Containers of finished attempts are removed while the daemon runs,
        /// several with one engine command, and not left to the orphan sweep.
        @Test func finishedContainersRemovedWhileRunning() async throws {
            let sandbox = try DaemonSandbox()
            let daemon = try sandbox.startDaemon(overrides: ["concurrency": 2])
            var ids: [Int64] = []
            for _ in 0..<6 {
                ids.append(try await sandbox.submit(["true"]))
            }

            let waited = try await sandbox.berth(["wait", "--timeout", "60s"] + ids.map(String.init))
            #expect(waited.status == 0, "\(waited)")

            // The remover deletes the attempt directories after the containers.
            let attemptsRoot = sandbox.directory.appendingPathComponent("containers").path
            let deadline = ContinuousClock.now + .seconds(3)
            var left = try await sandbox.containers(ofWorker: daemon.workerID)
            var attemptDirectories = try FileManager.default.contentsOfDirectory(atPath: attemptsRoot)
            while !(left.isEmpty && attemptDirectories.isEmpty), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                left = try await sandbox.containers(ofWorker: daemon.workerID)
                attemptDirectories = try FileManager.default.contentsOfDirectory(atPath: attemptsRoot)
            }
            #expect(left.isEmpty, "containers left 3 s after the jobs finished: \(left)")
            #expect(attemptDirectories.isEmpty, "attempt directories left 3 s after the jobs finished: \(attemptDirectories)")
            #expect(!daemon.log.contains("orphaned container"))
            #expect(!daemon.log.contains("could not remove"))
            #expect(daemon.isRunning)
        }

        /// A finishing attempt claims the next job in the transaction that
        /// records its result, so the claim has the finish's time exactly.
        @Test func nextJobClaimedWithResult() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon(overrides: ["concurrency": 1])
            var ids: [Int64] = []
            for _ in 0..<3 {
                ids.append(try await sandbox.submit(["sleep", "0.5"]))
            }

            let waited = try await sandbox.berth(["wait", "--timeout", "60s"] + ids.map(String.init))
            #expect(waited.status == 0, "\(waited)")

            let attempts = try ids.map { try #require(try sandbox.attempts($0).first) }.sorted { $0.claimedAt < $1.claimedAt }
            #expect(attempts.map(\.jobID) == ids)
            for attempt in attempts {
                #expect(attempt.outcome == .succeeded)
            }
            for (earlier, later) in zip(attempts, attempts.dropFirst()) {
                #expect(later.claimedAt == earlier.finishedAt, "job \(later.jobID) claimed apart from the result of job \(earlier.jobID)")
            }
        }

        @Test func workspaceQuotaStopsTheJob() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let id = try await sandbox.submit(
                ["sh", "-c", "head -c 3000000 /dev/zero > /workspace/big && echo written && sleep 60"],
                options: ["--workspace-disk", "1m", "--max-attempts", "1"])

            // The daemon measures the workspace every 2 s.
            let job = try await sandbox.waitForState(id, [.dead, .succeeded, .failed], timeout: .seconds(20))
            #expect(job.state == .dead)
            let attempt = try #require(try sandbox.attempts(id).first)
            #expect(attempt.outcome == .failed)
            #expect(attempt.stopIntent == "workspace_quota")
            #expect(attempt.message == "stopped because the workspace exceeded its disk quota")
            #expect(try sandbox.events(id).map(\.payload) == ["written"])
        }
    }
}

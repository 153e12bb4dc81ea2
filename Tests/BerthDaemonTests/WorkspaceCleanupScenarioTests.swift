import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    @Suite struct WorkspaceCleanupScenarios {
        /// With no retention, a finished job's workspace is deleted at the next
        /// sweep and a running job's is kept. A retry rebuilds the workspace
        /// from the stored checkpoint. Pruning also deletes the checkpoint
        /// directory, and directories berth did not create are kept.
        @Test func finishedWorkspacesAreDeletedAndRebuiltOnRetry() async throws {
            let sandbox = try DaemonSandbox()
            let workspaces = sandbox.directory.appendingPathComponent("workspaces").path
            let checkpoints = sandbox.directory.appendingPathComponent("checkpoints").path
            try FileManager.default.createDirectory(atPath: workspaces + "/lost+found", withIntermediateDirectories: true)
            let foreignID = Int64(9_500_000_000)
            try FileManager.default.createDirectory(atPath: "\(workspaces)/\(foreignID)", withIntermediateDirectories: true)
            try sandbox.startDaemon(overrides: ["workspaceRetention": "0s"])

            let running = try await sandbox.submit(["sleep", "60"])
            _ = try await sandbox.waitForRunningContainer(running)

            // The first attempt leaves a checkpoint and fails. The retry must find the checkpoint again.
            let script = """
                if [ -f checkpoints/step.json ]; then echo "found $(cat checkpoints/step.json)"; exit 0; fi
                mkdir -p checkpoints && echo '{"step":1}' > checkpoints/step.json && echo scratch > notes
                exit 3
                """
            let finished = try await sandbox.submit(["sh", "-c", script], options: ["--max-attempts", "1"])
            #expect(try await sandbox.waitForState(finished, [.dead]).state == .dead)
            try await waitUntil("the dead job's workspace is deleted", timeout: .seconds(15)) {
                !FileManager.default.fileExists(atPath: "\(workspaces)/\(finished)")
            }
            #expect(FileManager.default.fileExists(atPath: "\(workspaces)/\(running)"), "a running job keeps its workspace")
            #expect(FileManager.default.fileExists(atPath: "\(checkpoints)/\(finished)"), "stored checkpoints are not the workspace's to delete")

            // A container log directory that a crash left behind is deleted too, and a running container's is kept.
            let containers = sandbox.directory.appendingPathComponent("containers").path
            let deadContainer = try #require(try sandbox.attempts(finished).first?.containerName)
            try FileManager.default.createDirectory(atPath: "\(containers)/\(deadContainer)", withIntermediateDirectories: true)
            try Data("left behind\n".utf8).write(to: URL(fileURLWithPath: "\(containers)/\(deadContainer)/output.log"))
            try await waitUntil("the finished job's container log directory is deleted", timeout: .seconds(15)) {
                !FileManager.default.fileExists(atPath: "\(containers)/\(deadContainer)")
            }
            let runningContainer = try #require(try sandbox.attempts(running).first?.containerName)
            #expect(FileManager.default.fileExists(atPath: "\(containers)/\(runningContainer)/output.log"))

            let retry = try await sandbox.berth(["retry", "\(finished)"])
            #expect(retry.status == 0, "\(retry)")
            #expect(try await sandbox.waitForState(finished, [.succeeded]).state == .succeeded)
            let printed = try sandbox.events(finished).map(\.payload)
            #expect(printed.contains(#"found {"step":1}"#), "the retry did not see the restored checkpoint: \(printed)")

            let prune = try await sandbox.berth(["prune", "--older-than", "0s"])
            #expect(prune.status == 0, "\(prune)")
            try await waitUntil("the pruned job's checkpoint directory is deleted", timeout: .seconds(15)) {
                !FileManager.default.fileExists(atPath: "\(checkpoints)/\(finished)")
            }

            #expect(FileManager.default.fileExists(atPath: "\(workspaces)/\(running)"))
            #expect(FileManager.default.fileExists(atPath: workspaces + "/lost+found"))
            #expect(FileManager.default.fileExists(atPath: "\(workspaces)/\(foreignID)"), "an id this database never gave out is not ours")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspaces).filter { $0.hasPrefix(".") }
            #expect(leftovers.isEmpty, "half-deleted directories: \(leftovers)")

            _ = try await sandbox.berth(["cancel", "\(running)"])
            _ = try await sandbox.waitForState(running, [.cancelled])
        }
    }
}

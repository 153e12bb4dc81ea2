import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

/// Generic jobs that count steps and write a checkpoint after each one,
/// interrupted in every way a run can end early.
@Suite("Generic resume", .serialized, .enabled(if: containersAvailable))
struct GenericResumeTests {
    @Test func failedAttemptResumes() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["5", "0", "fail=3#1"])

            try await sandbox.waitForState(id, [.succeeded])

            let attempts = try sandbox.attempts(id)
            #expect(attempts.count == 2)
            #expect(attempts.first?.outcome == .failed)
            #expect(attempts.first?.resumedFrom == nil)
            #expect(attempts.last?.resumedFrom == (try sandbox.checkpointID(id, named: "step-0003.json")))
            #expect(try sandbox.steps(id, attempt: 1) == [1, 2, 3])
            #expect(try sandbox.steps(id, attempt: 2) == [4, 5])
            let resumed = try sandbox.events(id, type: "resumed").first?.object
            #expect(resumed?["from"] as? String == "/workspace/checkpoints/step-0003.json")

            let resumedFrom = try sandbox.checkpointID(id, named: "step-0003.json")
            let shown = try await sandbox.berth(["show", "\(id)"])
            #expect(shown.standardOutput.contains("RESUMED FROM"), "\(shown)")
            #expect(shown.standardOutput.contains("\(resumedFrom) step-0003.json"), "\(shown)")
            let listed = try await sandbox.berth(["checkpoints", "\(id)"])
            #expect(listed.status == 0, "\(listed)")
            #expect(listed.nonEmptyLines.first?.hasPrefix("ID") == true)
            #expect(listed.lines.contains { $0.contains("step-0005.json") && $0.contains("valid") && $0.split(separator: " ").first?.hasSuffix("*") == true }, "\(listed)")
            let json = try await sandbox.berth(["checkpoints", "--json", "\(id)"])
            let objects = json.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(objects.count == 5)
            #expect(objects.map { $0["name"] as? String } == (1...5).map { String(format: "step-%04d.json", $0) })
            #expect(objects.last?["next"] as? Bool == true)
            #expect(objects.first?["status"] as? String == "valid")
        }
    }

    @Test func resumeRejectsUnusableChoices() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["3", "0", "torn=2#1"], retry: ["maxAttempts": 1])
            try await sandbox.waitForState(id, [.dead])

            let missing = try await sandbox.berth(["resume", "--from", "nope.json", "\(id)"])
            let torn = try await sandbox.berth(["resume", "--from", "step-0003.json", "\(id)"])

            #expect(missing.status == 1)
            #expect(missing.standardError.contains("has no checkpoint named nope.json"), "\(missing)")
            #expect(torn.status == 1)
            #expect(torn.standardError.contains("cannot resume from checkpoint step-0003.json: its content is not valid"), "\(torn)")
            #expect(try sandbox.job(id).state == .dead)

            let resumed = try await sandbox.berth(["resume", "\(id)"])
            #expect(resumed.standardOutput.contains("queued to resume from checkpoint"), "\(resumed)")
            try await sandbox.waitForState(id, [.succeeded])
            #expect(try sandbox.steps(id, attempt: 2) == [3])
        }
    }

    @Test func killedContainerResumes() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["5", "0", "hold=3#1"])
            let container = try await sandbox.runningContainer(id)
            try await sandbox.waitForCheckpoint(id, named: "step-0003.json")

            let killed = try await sandbox.podman(["kill", container])
            #expect(killed.status == 0, "\(killed)")
            try await sandbox.waitForState(id, [.succeeded])

            let attempts = try sandbox.attempts(id)
            #expect(attempts.first?.outcome == .failed)
            #expect(attempts.first?.exitCode == 137)
            #expect(try sandbox.steps(id, attempt: 2) == [4, 5])
        }
    }

    @Test func outOfMemoryKillResumes() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["5", "0", "hog=3#1"], limits: ["memory": "48m"])

            try await sandbox.waitForState(id, [.succeeded], timeout: .seconds(90))

            let attempts = try sandbox.attempts(id)
            #expect(attempts.first?.outcome == .outOfMemory)
            #expect(attempts.last?.resumedFrom == (try sandbox.checkpointID(id, named: "step-0003.json")))
            #expect(try sandbox.steps(id, attempt: 2) == [4, 5])
        }
    }

    @Test func daemonKilledBetweenCheckpoints() async throws {
        try await withSandbox { sandbox in
            let daemon = try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["5", "0", "hold=3#1"])
            let container = try await sandbox.runningContainer(id)
            try await sandbox.waitForCheckpoint(id, named: "step-0003.json")

            // The host loses the daemon and the job's container together.
            await daemon.kill()
            #expect(try await sandbox.podman(["kill", container]).status == 0)
            try sandbox.startDaemon()
            try await sandbox.waitForState(id, [.succeeded])

            let attempts = try sandbox.attempts(id)
            #expect(attempts.count == 2)
            #expect(attempts.last?.resumedFrom == (try sandbox.checkpointID(id, named: "step-0003.json")))
            #expect(try sandbox.steps(id, attempt: 1) == [1, 2, 3])
            #expect(try sandbox.steps(id, attempt: 2) == [4, 5])
        }
    }

    @Test func drainResumesAfterRestart() async throws {
        try await withSandbox { sandbox in
            let daemon = try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["5", "0", "hold=3#1"])
            _ = try await sandbox.runningContainer(id)
            try await sandbox.waitForCheckpoint(id, named: "step-0003.json")

            daemon.signal(SIGTERM)
            try await daemon.waitForExit()
            let drained = try sandbox.job(id)
            #expect(drained.state == .queued)
            #expect(drained.attemptsUsed == 0)
            try sandbox.startDaemon()
            try await sandbox.waitForState(id, [.succeeded])

            let attempts = try sandbox.attempts(id)
            #expect(attempts.first?.outcome == .interrupted)
            #expect(attempts.last?.resumedFrom == (try sandbox.checkpointID(id, named: "step-0003.json")))
            #expect(try sandbox.steps(id, attempt: 2) == [4, 5])
        }
    }

    @Test func missingWorkspaceRebuilt() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["5", "0", "fail=3#1"], retry: ["maxAttempts": 1])
            try await sandbox.waitForState(id, [.dead])
            try FileManager.default.removeItem(atPath: sandbox.workspace(id))

            let resumed = try await sandbox.berth(["resume", "\(id)"])
            #expect(resumed.status == 0, "\(resumed)")
            try await sandbox.waitForState(id, [.succeeded])

            #expect(try sandbox.steps(id, attempt: 2) == [4, 5])
            // Every stored checkpoint is back, owned by the container's user.
            for step in 1...5 {
                let path = sandbox.workspace(id) + "/checkpoints/" + String(format: "step-%04d.json", step)
                var status = stat()
                #expect(lstat(path, &status) == 0, "\(path) is missing")
                #expect(status.st_uid == 65534)
            }
        }
    }

    @Test func resumeFromChosenCheckpoint() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["4", "0"])
            try await sandbox.waitForState(id, [.succeeded])

            let resumed = try await sandbox.berth(["resume", "--from", "step-0002.json", "\(id)"])
            #expect(resumed.status == 0, "\(resumed)")
            try await sandbox.waitForState(id, [.succeeded])

            #expect(try sandbox.steps(id, attempt: 2) == [3, 4])
            #expect(try sandbox.attempts(id).last?.resumedFrom == (try sandbox.checkpointID(id, named: "step-0002.json")))
            // The job wrote steps 3 and 4 again, so they are resumable again.
            let superseded = try sandbox.checkpoints(id).filter(\.superseded).map(\.name)
            #expect(superseded == [])
        }
    }

    @Test func tornCheckpointNeverChosen() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submitSteps(["5", "0", "torn=2#1"])

            try await sandbox.waitForState(id, [.succeeded])

            let torn = try sandbox.checkpoints(id).first { $0.name == "step-0003.json" }
            #expect(torn?.valid == false)
            #expect(torn?.storedPath != nil)
            #expect(try sandbox.attempts(id).last?.resumedFrom == (try sandbox.checkpointID(id, named: "step-0002.json")))
            #expect(try sandbox.steps(id, attempt: 2) == [3, 4, 5])
        }
    }
}

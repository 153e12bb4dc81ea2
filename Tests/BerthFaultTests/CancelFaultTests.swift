import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension FaultScenarios {
    /// An operator's cancel that meets a crash. The long mode of the crash
    /// harness found a cancelled job that kept running: the cancel arrived
    /// while the daemon was down and its container was gone, and the restarted
    /// daemon finished the attempt as `lost`, which cleared the request.
    @Suite struct CancelFaults {
        @Test func cancelWhileDaemonDownWins() async throws {
            try await withFaultSandbox { sandbox in
                let image = try await FaultImage.require()
                let daemon = try sandbox.startDaemon()
                try await daemon.waitForLog("daemon started")
                let id = try await submit(sandbox, image: image, ["berth-test-job", "stdout", "started", "sleep", "60"])
                try await waitUntil("job \(id) starts its container") {
                    try sandbox.store.attempts(jobID: id).last?.startedAt != nil
                }

                await daemon.kill()
                let containers = try await sandbox.containers()
                #expect(containers.count == 1)
                _ = try await sandbox.podman(["rm", "-f", "-t", "0"] + containers)
                let cancelled = try await sandbox.berth(["cancel", "\(id)"])
                #expect(cancelled.status == 0, "\(cancelled)")

                let restarted = try sandbox.startDaemon()
                try await waitUntil("job \(id) finishes", timeout: .seconds(30)) {
                    try [.succeeded, .dead, .cancelled].contains(sandbox.store.requireJob(id: id).state)
                }
                let attempts = try sandbox.store.attempts(jobID: id)
                #expect(try sandbox.store.requireJob(id: id).state == .cancelled, "attempts: \(attempts.map { "\($0.outcome?.rawValue ?? "-"): \($0.message ?? "")" })")
                #expect(attempts.map(\.outcome) == [.cancelled])
                #expect(try await sandbox.containers().isEmpty)
                #expect(try await sandbox.sql("PRAGMA integrity_check;").standardOutput == "ok\n")

                restarted.signal(SIGTERM)
                #expect(try await restarted.waitForExit() == .exited(0))
            }
        }
    }
}

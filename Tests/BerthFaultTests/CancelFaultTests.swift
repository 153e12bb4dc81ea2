import BerthCore
import BerthStore
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
                try await eventually("job \(id) starts its container") {
                    try sandbox.store.attempts(jobID: id).last?.startedAt != nil
                }

                await daemon.kill()
                let containers = try await sandbox.containers()
                #expect(containers.count == 1)
                _ = try await sandbox.podman(["rm", "-f", "-t", "0"] + containers)
                let cancelled = try await sandbox.berth(["cancel", "\(id)"])
                #expect(cancelled.status == 0, "\(cancelled)")

                let restarted = try sandbox.startDaemon()
                try await eventually("job \(id) finishes", timeout: .seconds(30)) {
                    try [.succeeded, .dead, .cancelled].contains(sandbox.store.requireJob(id: id).state)
                }
                let attempts = try sandbox.store.attempts(jobID: id)
                #expect(try sandbox.store.requireJob(id: id).state == .cancelled, "attempts: \(attempts.map { "\($0.outcome?.rawValue ?? "-"): \($0.message ?? "")" })")
                #expect(attempts.map(\.outcome) == [.cancelled])
                #expect(try await sandbox.containers().isEmpty)
                #expect(try await sandbox.sql("PRAGMA integrity_check;").standardOutput == "ok\n")

                restarted.send(SIGTERM)
                #expect(try await restarted.waitForExit() == .exited(0))
            }
        }
    }
}

/// A cancel request that reaches a running job just before its attempt ends
/// by itself, at the store level.
@Suite final class CancelRequestRace {
    let directory: String
    let store: JobStore
    let now: Int64 = 1_800_000_000_000

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/berth-cancel-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw FaultTestError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        directory = String(cString: created)
        store = try JobStore(options: DatabaseOptions(path: directory + "/berth.db"), now: now)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func retryableEndKeepsCancel() throws {
        let id = try store.submit([JobSpec(image: "localhost/berth-test:latest", command: ["true"])], now: now)[0].id
        let lease = try #require(try store.claim(queue: nil, worker: "w", leaseDuration: .seconds(60), now: now)).lease
        #expect(try store.cancel(id: id, now: now + 1) == .requested)

        try store.finishAttempt(
            lease, result: AttemptResult(outcome: .failed, exitCode: 1, message: "exited with code 1"),
            decision: .retry(after: .seconds(1)), now: now + 2)

        let state = try store.requireJob(id: id).state
        withKnownIssue("finishing an attempt clears a pending cancel request, so the job is retried instead of cancelled") {
            #expect(state == .cancelled)
        }
    }
}

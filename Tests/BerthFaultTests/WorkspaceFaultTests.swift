import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension FaultScenarios {
    /// The file systems of the workspaces and of the checkpoint store fill up.
    @Suite struct WorkspaceFaults {
        /// Measured: a job that fills its workspace gets ENOSPC from its own
        /// write, and the daemon records its result as usual. A checkpoint that the full
        /// checkpoint store cannot take is logged by the daemon with the path
        /// and ENOSPC, stays in the workspace, and is captured by the scan
        /// before the next attempt once space returns. The failed copy is
        /// listed by `berth checkpoints` as refused, with the reason.
        @Test func diskFullWorkspaces() async throws {
            try await withFaultSandbox { sandbox in
                let image = try await FaultImage.require()
                try await sandbox.mountTmpfs(at: sandbox.workspaces, size: "4m")
                try await sandbox.mountTmpfs(at: sandbox.checkpointStore, size: "2m")
                let daemon = try sandbox.startDaemon()
                try await daemon.waitForLog("daemon started")

                // The job's own write fails; the job reports it and exits 0.
                let filling = try await submit(
                    sandbox, image: image, ["sh", "-c", #"head -c 8000000 /dev/zero > /workspace/fill; echo "head exit $?""#])
                try await waitUntil("job \(filling) finishes") {
                    try sandbox.store.requireJob(id: filling).state == .succeeded
                }
                #expect(try sandbox.store.events(jobID: filling).map(\.payload) == ["head exit 1"])
                var usage = statvfs()
                #expect(statvfs(sandbox.workspaces, &usage) == 0 && usage.f_bavail == 0, "the job did not fill the workspaces")
                try FileManager.default.removeItem(atPath: "\(sandbox.workspaces)/\(filling)/fill")

                // Attempt 1 writes a 1 MiB checkpoint that the full store cannot
                // take, and fails; attempt 2, after space returns, resumes from it.
                let storeFiller = try await sandbox.fillFileSystem(of: sandbox.checkpointStore)
                let script = #"""
                    if [ "$BERTH_ATTEMPT" = 1 ]; then
                      head -c 1048576 /dev/zero > "$BERTH_CHECKPOINT_DIR/.big.tmp"
                      mv "$BERTH_CHECKPOINT_DIR/.big.tmp" "$BERTH_CHECKPOINT_DIR/big.bin"
                      echo '{"type":"checkpoint","name":"big.bin"}'
                      exit 1
                    fi
                    echo "{\"type\":\"resumed\",\"from\":\"${BERTH_RESUME_FROM:-}\"}"
                    """#
                let resuming = try await submit(
                    sandbox, image: image, ["sh", "-c", script],
                    extra: ["retry": ["maxAttempts": 3, "initialDelay": "4s", "retryOn": ["failed"]]])
                try await daemon.waitForLog("cannot write to the checkpoint store", timeout: .seconds(30))
                #expect(daemon.log.contains("No space left on device"), "daemon log:\n\(daemon.log)")
                try await waitUntil("a checkpoint row names the failed copy of big.bin") {
                    try sandbox.store.checkpoints(jobID: resuming).contains { $0.name == "big.bin" && $0.refusedReason != nil }
                }
                let refusal = try sandbox.store.checkpoints(jobID: resuming).first { $0.name == "big.bin" }?.refusedReason
                #expect(refusal?.contains("No space left on device") == true, "refusal: \(refusal ?? "none")")
                try FileManager.default.removeItem(atPath: storeFiller)

                try await waitUntil("job \(resuming) succeeds", timeout: .seconds(30)) {
                    try sandbox.store.requireJob(id: resuming).state == .succeeded
                }
                let attempts = try sandbox.store.attempts(jobID: resuming)
                #expect(attempts.map(\.outcome) == [.failed, .succeeded])
                let stored = try sandbox.store.checkpoints(jobID: resuming).filter { $0.name == "big.bin" && $0.storedPath != nil }
                #expect(stored.count == 1, "big.bin was not captured after space returned")
                #expect(stored.first?.size == 1_048_576)
                #expect(attempts.last?.resumedFrom == stored.first?.id)
                let resumed = try sandbox.store.events(jobID: resuming, attempt: 2).map(\.payload)
                #expect(resumed == [#"{"type":"resumed","from":"/workspace/checkpoints/big.bin"}"#])

                #expect(daemon.isRunning)
                daemon.signal(SIGTERM)
                #expect(try await daemon.waitForExit() == .exited(0))
                #expect(try await sandbox.sql("PRAGMA integrity_check;").standardOutput == "ok\n")
            }
        }
    }
}

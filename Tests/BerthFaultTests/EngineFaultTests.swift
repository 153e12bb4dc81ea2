import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension FaultScenarios {
    /// The engine breaks while the daemon runs a job, and comes back.
    ///
    /// A stub at `engine.path` forwards every call to podman until the test
    /// switches its mode; the stub itself is removed for the missing case.
    @Suite struct EngineFaults {
        enum Breakage: String, CaseIterable {
            /// The engine binary is gone.
            case missing
            /// Every call hangs until the daemon's call timeout kills it.
            case hanging
            /// Every call exits 0 with bytes that no caller can parse.
            case garbage
            /// Every call fails with podman's own exit status for its errors.
            case failing
        }

        @Test(arguments: Breakage.allCases)
        func brokenEngineLosesNoJob(_ breakage: Breakage) async throws {
            try await withFaultSandbox { sandbox in
                let image = try await FaultImage.require()
                let podman = try #require(TestHost.podman)
                let mode = sandbox.directory.appendingPathComponent("engine-mode").path
                let stub = sandbox.directory.appendingPathComponent("engine").path
                let script = """
                    #!/bin/sh
                    case "$(cat \(mode) 2>/dev/null)" in
                      hanging) sleep 600 ;;
                      garbage) printf '\\377\\000{"Id": [not json\\n'; exit 0 ;;
                      failing) echo "Error: the engine failed as the test asked" >&2; exit 125 ;;
                    esac
                    exec \(podman) "$@"

                    """
                try script.write(toFile: stub, atomically: true, encoding: .utf8)
                chmod(stub, 0o755)
                let metrics = sandbox.directory.appendingPathComponent("berth.prom").path
                let daemon = try sandbox.startDaemon(overrides: [
                    "engine": ["path": stub, "callTimeout": "2s"],
                    "metrics": ["path": metrics, "interval": "1s"],
                ])
                try await daemon.waitForLog("daemon started")

                // A job runs across the whole outage; a second one arrives during it.
                let running = try await submit(sandbox, image: image, ["/bin/berth-step-job", "16", "0.5"])
                try await waitUntil("job \(running) starts its container") {
                    try sandbox.store.attempts(jobID: running).last?.startedAt != nil
                }
                switch breakage {
                case .missing:
                    try FileManager.default.moveItem(atPath: stub, toPath: stub + ".away")
                default:
                    try breakage.rawValue.write(toFile: mode, atomically: true, encoding: .utf8)
                }
                let arrived = try await submit(sandbox, image: image, ["/bin/berth-step-job", "2", "0.1"])

                try await daemon.waitForLog("container engine is unhealthy; claiming stops until it answers", timeout: .seconds(40))
                try await waitUntil("the metrics file shows the engine down", timeout: .seconds(10)) {
                    ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").contains("\nberth_engine_up 0\n")
                }
                try await Task.sleep(for: .seconds(3))
                #expect(daemon.isRunning, "the daemon exited while the engine was \(breakage.rawValue)")
                // The claim may come before the failure is seen; its attempt must then be free.
                #expect(try sandbox.store.requireJob(id: arrived).state == .queued, "a job left the queue while the engine was unhealthy")
                let interrupted = try sandbox.store.attempts(jobID: arrived)
                #expect(interrupted.allSatisfy { $0.outcome == .interrupted }, "\(interrupted.map { $0.outcome?.rawValue ?? "-" })")

                switch breakage {
                case .missing:
                    try FileManager.default.moveItem(atPath: stub + ".away", toPath: stub)
                default:
                    try "ok".write(toFile: mode, atomically: true, encoding: .utf8)
                }
                try await daemon.waitForLog("container engine answers again; claiming resumes", timeout: .seconds(40))
                for id in [running, arrived] {
                    try await waitUntil("job \(id) finishes", timeout: .seconds(60)) {
                        try [.succeeded, .dead, .cancelled].contains(sandbox.store.requireJob(id: id).state)
                    }
                    let attempts = try sandbox.store.attempts(jobID: id)
                    #expect(try sandbox.store.requireJob(id: id).state == .succeeded, "job \(id): \(attempts.map { "\($0.outcome?.rawValue ?? "-"): \($0.message ?? "")" })")
                    let done = try sandbox.store.events(jobID: id, limit: 10_000).filter { $0.type == "done" }
                    #expect(done.count == 1, "job \(id) has \(done.count) done events")
                }
                #expect(try sandbox.store.attempts(jobID: running).count == 1, "the running job's attempt survived the outage")
                try await waitUntil("the metrics file shows the engine up") {
                    ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").contains("\nberth_engine_up 1\n")
                }

                daemon.signal(SIGTERM)
                #expect(try await daemon.waitForExit() == .exited(0))
            }
        }
    }
}

/// Submits a job of the fault image with `command` and returns its id.
func submit(_ sandbox: FaultSandbox, image: String, _ command: [String], extra: [String: Any] = [:]) async throws -> Int64 {
    var spec = extra
    spec["image"] = image
    spec["command"] = command
    let data = try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys])
    let submitted = try await sandbox.berth(["submit", "--spec", String(decoding: data, as: UTF8.self)])
    guard submitted.status == 0, let id = Int64(submitted.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw TestFailure("berth submit failed: \(submitted)")
    }
    return id
}

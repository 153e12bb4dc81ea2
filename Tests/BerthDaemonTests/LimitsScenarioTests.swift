import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    @Suite struct LimitsScenarios {
        /// Reads the limits back from `podman inspect` of the running container
        /// and from inside it, so both the engine's settings and their effect are checked.
        @Test func limitsAreEnforcedOnTheContainer() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let probe = """
                if touch /probe 2>/dev/null; then echo root-writable; else echo root-read-only; fi
                touch /workspace/probe && echo workspace-writable
                echo "cwd $(pwd)"
                id
                grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status
                echo "interfaces $(ls /sys/class/net | tr '\\n' ' ')"
                echo ready
                sleep 60
                """
            let id = try await sandbox.submit(
                ["sh", "-c", probe], options: ["--memory", "64m", "--cpus", "0.5", "--pids", "32"])
            let attempt = try await sandbox.waitForRunningContainer(id)
            try await waitUntil("job \(id) printed ready") {
                try sandbox.events(id).contains { $0.payload == "ready" }
            }
            let containerID = try #require(attempt.containerID)

            let inspection = try await sandbox.inspect(containerID)
            let host = try #require(inspection["HostConfig"] as? [String: Any])
            let config = try #require(inspection["Config"] as? [String: Any])
            #expect(host["Memory"] as? Int == 64 << 20)
            #expect(host["MemorySwap"] as? Int == 64 << 20, "swap equal to memory means no swap at all")
            #expect(host["PidsLimit"] as? Int == 32)
            #expect(host["NanoCpus"] as? Int == 500_000_000)
            #expect(host["ReadonlyRootfs"] as? Bool == true)
            let dropped = try #require(host["CapDrop"] as? [String])
            #expect(dropped.contains("CAP_CHOWN"))
            #expect(dropped.contains("CAP_SETUID"))
            #expect(dropped.contains("CAP_NET_RAW"))
            #expect((host["CapAdd"] as? [String] ?? []).isEmpty)
            #expect((host["SecurityOpt"] as? [String])?.contains("no-new-privileges") == true)
            #expect(host["NetworkMode"] as? String == "none")
            #expect(config["User"] as? String == "65534:65534")
            #expect(config["WorkingDir"] as? String == "/workspace")
            let labels = try #require(config["Labels"] as? [String: String])
            #expect(labels["berth.job"] == "\(id)")
            #expect(labels["berth.attempt"] == "1")
            #expect(labels["berth.worker"] == attempt.workerID)

            let mounts = try #require(inspection["Mounts"] as? [[String: Any]])
            let workspace = try #require(mounts.first { $0["Destination"] as? String == "/workspace" })
            #expect(workspace["Source"] as? String == sandbox.directory.appendingPathComponent("workspaces/\(id)").path)
            #expect(workspace["RW"] as? Bool == true)

            let printed = try sandbox.events(id).map(\.payload)
            #expect(printed.contains("root-read-only"))
            #expect(printed.contains("workspace-writable"))
            #expect(printed.contains("cwd /workspace"))
            // Podman adds a passwd entry for a numeric user, which `id` then names.
            #expect(printed.contains { $0.hasPrefix("uid=65534(") && $0.contains(" gid=65534(") }, "printed: \(printed)")
            #expect(printed.contains("CapEff:\t0000000000000000"))
            #expect(printed.contains("CapBnd:\t0000000000000000"))
            #expect(printed.contains("NoNewPrivs:\t1"))
            #expect(printed.contains("interfaces lo "), "no interface but loopback with network none")
            #expect(FileManager.default.fileExists(atPath: sandbox.directory.appendingPathComponent("workspaces/\(id)/probe").path))

            // The settings are also stored with the attempt, for `berth show`.
            let settingsText = try #require(try sandbox.attempts(id).first?.runSettings)
            let settings = try #require(try JSONSerialization.jsonObject(with: Data(settingsText.utf8)) as? [String: String])
            #expect(settings["memory"] == "64m")
            #expect(settings["memorySwap"] == "64m")
            #expect(settings["pids"] == "32")
            #expect(settings["network"] == "none")

            _ = try await sandbox.berth(["cancel", "\(id)"])
            try await sandbox.waitForState(id, [.cancelled])
        }

        @Test func pidsLimitStopsForks() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let id = try await sandbox.submit(
                ["berth-test-job", "fork-bomb", "40", "exit", "0"], options: ["--pids", "16", "--max-attempts", "1"])

            let job = try await sandbox.waitForState(id, [.succeeded, .dead, .failed])
            #expect(job.state == .dead)
            #expect(try sandbox.attempts(id).first?.outcome == .failed)
            #expect(try !sandbox.events(id).contains { $0.payload == "started 40 processes" })
            let errors = try sandbox.logs(id).map(\.line)
            #expect(errors.contains { $0.contains("can't fork: Resource temporarily unavailable") }, "stderr: \(errors)")
        }
    }
}

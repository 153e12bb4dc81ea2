import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    /// An engine binary that is missing or never answers.
    @Suite struct EngineFailureScenarios {
        @Test func missingEngineBinaryStopsTheDaemon() async throws {
            let sandbox = try DaemonSandbox()
            let id = try await sandbox.submit(["berth-test-job", "exit", "0"])

            let daemon = try sandbox.startDaemon(overrides: ["engine": ["path": "/nonexistent/podman"]])
            let status = try await daemon.waitForExit(timeout: .seconds(15))
            #expect(status.code != 0)
            #expect(daemon.log.contains("cannot start"), "log: \(daemon.log)")
            #expect(daemon.log.contains("/nonexistent/podman"), "log: \(daemon.log)")

            let job = try sandbox.job(id)
            #expect(job.state == .queued)
            #expect(job.attempt == 0)
            #expect(try sandbox.attempts(id).isEmpty)
        }

        @Test func hangingEngineIsUnhealthyAndNothingIsClaimed() async throws {
            let sandbox = try DaemonSandbox()
            let calls = sandbox.directory.appendingPathComponent("engine-calls").path
            // Records each call, then never answers. No exec, so that the shell
            // with the stub's path in its argv lives as long as the call.
            let stub = try sandbox.write("#!/bin/sh\necho \"$*\" >> \(calls)\nsleep 600\n", to: "hanging-engine")
            chmod(stub, 0o755)
            let id = try await sandbox.submit(["berth-test-job", "exit", "0"])

            let daemon = try sandbox.startDaemon(overrides: ["engine": ["path": stub, "callTimeout": "1s"]])
            try await daemon.waitForLog("container engine is unhealthy; claiming stops until it answers")
            #expect(daemon.log.contains("timed out after 1.0 seconds"))
            // Two more health checks after the first failure, each of which timed out.
            try await waitUntil("the daemon checked the engine three times", timeout: .seconds(20)) {
                let text = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
                // Each line is one call's arguments, after podman's global flags.
                return text.split(separator: "\n").filter { $0.split(separator: " ").contains("info") }.count >= 3
            }
            #expect(daemon.isRunning)

            let job = try sandbox.job(id)
            #expect(job.state == .queued)
            #expect(try sandbox.attempts(id).isEmpty)
            let calledCommands = try String(contentsOfFile: calls, encoding: .utf8)
            #expect(!calledCommands.contains("create"), "calls: \(calledCommands)")
            let unhealthyReports = daemon.log.components(separatedBy: "unhealthy").count - 1
            #expect(unhealthyReports == 1, "a repeated failure is reported once per minute; log: \(daemon.log)")

            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit(timeout: .seconds(15)).code == 0)
            try await waitUntil("no stub engine call is left running", timeout: .seconds(10)) {
                Processes.pids { $0.contains(stub) }.isEmpty
            }
        }
    }
}

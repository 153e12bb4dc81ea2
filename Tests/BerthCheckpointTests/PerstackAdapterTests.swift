import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

/// Perstack jobs, run by the Perstack-shaped stand-in of the checkpoint image.
@Suite("Perstack adapter", .serialized, .enabled(if: containersAvailable))
struct PerstackAdapterTests {
    /// Returns a Perstack job spec for the stand-in, which follows `plan`.
    static func spec(plan: String, extra: [String: Any] = [:], secrets: [String] = []) -> [String: Any] {
        var adapter: [String: Any] = ["type": "perstack", "expert": "writer", "query": "write the report"]
        adapter.merge(extra) { _, new in new }
        var spec: [String: Any] = ["command": ["perstack"], "adapter": adapter, "env": ["PLAN": plan]]
        if !secrets.isEmpty { spec["secrets"] = secrets }
        return spec
    }

    /// Returns the arguments the stand-in received in `attempt`, as it printed them.
    static func arguments(_ sandbox: Sandbox, _ id: Int64, attempt: Int) throws -> [String] {
        try sandbox.logs(id, attempt: attempt).filter { $0.hasPrefix("arg: ") }.map { String($0.dropFirst(5)) }
    }

    @Test func firstRunAndResumeArguments() async throws {
        try await withSandbox { sandbox in
            let secrets = sandbox.directory.appendingPathComponent("secrets")
            try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let keyFile = secrets.appendingPathComponent("ANTHROPIC_API_KEY").path
            try "sk-test-value\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
            chmod(keyFile, 0o600)
            try sandbox.startDaemon()
            let options: [String: Any] = [
                "provider": "anthropic", "model": "claude-test", "maxSteps": 50, "maxRetries": 2, "modelTimeout": "30s",
            ]
            let id = try await sandbox.submit(Self.spec(plan: "steps=4 crash@2#1", extra: options, secrets: ["ANTHROPIC_API_KEY"]))

            try await sandbox.waitForState(id, [.succeeded])

            let shared = ["--provider", "anthropic", "--model", "claude-test", "--max-steps", "50", "--max-retries", "2",
                          "--timeout", "30000", "--env-path", "/berth/perstack.env", "--", "writer", "write the report"]
            #expect(try Self.arguments(sandbox, id, attempt: 1)
                == ["run", "--config", "/app/perstack.toml", "--runtime", "local", "--job-id", "berth-\(id)"] + shared)
            #expect(try Self.arguments(sandbox, id, attempt: 2)
                == ["run", "--config", "/app/perstack.toml", "--runtime", "local", "--continue-job", "berth-\(id)",
                    "--resume-from", "c1-2"] + shared)
            let logs = try sandbox.logs(id)
            #expect(logs.contains("env-path: read-only"))
            #expect(!logs.contains("env-path: writable"))
            #expect(logs.contains("ANTHROPIC_API_KEY: set"))

            let attempts = try sandbox.attempts(id)
            #expect(attempts.first?.outcome == .failed)
            #expect(attempts.first?.message?.contains("without a terminal event of the top-level run") == true)
            #expect(attempts.last?.resumedFrom == (try sandbox.checkpointID(id, named: "c1-2.json")))
            // The spec and the attempts never contain the secret's value.
            let shown = try await sandbox.berth(["show", "--json", "\(id)"])
            #expect(!shown.standardOutput.contains("sk-test-value"))
        }
    }

    @Test func providerKeyInEnvRejected() async throws {
        try await withSandbox { sandbox in
            var spec = Self.spec(plan: "steps=1")
            spec["env"] = ["ANTHROPIC_API_KEY": "sk-plain"]
            spec["image"] = try await CheckpointImage.require()
            let data = try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys])

            let result = try await sandbox.berth(["submit", "--spec", String(decoding: data, as: UTF8.self)])

            #expect(result.status == 64)
            #expect(result.standardError.contains("env.ANTHROPIC_API_KEY"))
            #expect(result.standardError.contains("list it in secrets instead"))
            #expect(!result.standardError.contains("sk-plain"))
        }
    }

    @Test func delegatedRunsNeverEndJob() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submit(Self.spec(plan: "steps=6 delegate@2 delegate-fails@3 crash@4#1"))

            try await sandbox.waitForState(id, [.succeeded])

            let attempts = try sandbox.attempts(id)
            #expect(attempts.count == 2)
            // Attempt 1 saw a delegated completeRun and a delegated stopRunByError, and neither ended it.
            #expect(attempts.first?.outcome == .failed)
            #expect(attempts.first?.message?.contains("without a terminal event") == true)
            let delegatedEnds = try sandbox.events(id).filter {
                $0.attempt == 1 && $0.object["expertKey"] as? String == "helper"
                    && ["completeRun", "stopRunByError"].contains($0.object["type"] as? String)
            }
            #expect(delegatedEnds.count == 2)
            // The resume starts from the job's own expert, not from the helper's later checkpoints.
            #expect(attempts.last?.resumedFrom == (try sandbox.checkpointID(id, named: "c1-4.json")))
            let delegated = try sandbox.checkpoints(id).filter { $0.metadata?.contains("\"delegatedBy\":\"writer\"") == true }
            #expect(delegated.count == 6)
            #expect(try Self.arguments(sandbox, id, attempt: 2).contains("c1-4"))
        }
    }

    @Test func waitingJobResumesWithAnswers() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submit(Self.spec(plan: "steps=5 ask@2 ask@3"))

            try await sandbox.waitForState(id, [.waiting])
            let shown = try await sandbox.berth(["show", "\(id)"])
            #expect(shown.standardOutput.contains("an answer to tool call askUser of skill @perstack/base (call call-ask-2)"), "\(shown)")
            #expect(shown.standardOutput.contains(#"{"question":"Go on after step 2?"}"#), "\(shown)")
            #expect(shown.standardOutput.contains("berth answer \(id) --text TEXT"), "\(shown)")
            let waiting = try sandbox.job(id)
            #expect(waiting.attemptsUsed == 0)
            #expect(try sandbox.attempts(id).first?.outcome == .waitingForInput)

            let answered = try await sandbox.berth(["answer", "\(id)", "--text", "yes, go on"])
            #expect(answered.status == 0, "\(answered)")
            try await waitUntil("job \(id) waits again, at step 3") {
                let job = try sandbox.job(id)
                return job.state == .waiting && job.attempt == 2
            }
            #expect(try Self.arguments(sandbox, id, attempt: 2).suffix(8)
                == ["--resume-from", "c1-2-ask", "--env-path", "/berth/perstack.env", "-i", "--", "writer", "yes, go on"])
            #expect(try sandbox.logs(id, attempt: 2).contains("answer: yes, go on"))

            let json = #"{"text":"fine","toolCallId":"call-ask-3"}"#
            let second = try await sandbox.berth(["answer", "\(id)", "--json", json])
            #expect(second.status == 0, "\(second)")
            try await sandbox.waitForState(id, [.succeeded])

            #expect(try Self.arguments(sandbox, id, attempt: 3).suffix(6)
                == ["--env-path", "/berth/perstack.env", "-i", "--", "writer", json])
            #expect(try sandbox.attempts(id).last?.resumedFrom == (try sandbox.checkpointID(id, named: "c2-3-ask.json")))
            #expect(try sandbox.job(id).attemptsUsed == 1)

            let late = try await sandbox.berth(["answer", "\(id)", "--text", "again"])
            #expect(late.status == 1)
            #expect(late.standardError.contains("is succeeded, not waiting"))
        }
    }

    @Test func outcomeFollowsTerminalEvents() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let retryable = try await sandbox.submit(Self.spec(plan: "steps=4 error@2#1"))
            let fatal = try await sandbox.submit(Self.spec(plan: "steps=4 fatal@2#1"))
            let exceeded = try await sandbox.submit(Self.spec(plan: "steps=5", extra: ["maxSteps": 2]))

            try await sandbox.waitForState(retryable, [.succeeded])
            try await sandbox.waitForState(fatal, [.dead])
            try await sandbox.waitForState(exceeded, [.dead])

            let retried = try sandbox.attempts(retryable)
            #expect(retried.count == 2)
            #expect(retried.first?.message?.contains("APICallError: overloaded (status 529)") == true)
            #expect(retried.last?.resumedFrom == (try sandbox.checkpointID(retryable, named: "c1-2-error.json")))
            #expect(try sandbox.attempts(fatal).count == 1)
            #expect(try sandbox.job(fatal).lastError?.contains("not retryable") == true)
            #expect(try sandbox.attempts(exceeded).count == 1)
            #expect(try sandbox.attempts(exceeded).first?.message == "the run reached its maximum number of steps")
        }
    }
}

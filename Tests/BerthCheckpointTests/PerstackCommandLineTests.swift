import BerthCore
import Testing

@testable import BerthDaemon

struct PerstackCommandLineTests {
    static let minimal = JobSpec.PerstackOptions(expert: "writer", query: "write it")

    @Test func firstRunMinimal() {
        let arguments = PerstackCommandLine.arguments(program: ["perstack"], options: Self.minimal, jobID: 42, resumeFrom: nil, answer: nil)

        #expect(arguments == [
            "perstack", "run", "--config", "/app/perstack.toml", "--runtime", "local", "--job-id", "berth-42",
            "--env-path", "/berth/perstack.env", "--", "writer", "write it",
        ])
    }

    @Test func everyOptionInOrder() {
        let options = JobSpec.PerstackOptions(
            expert: "@org/writer@1.0", query: "-starts with a dash", config: "/etc/p.toml", provider: "openai",
            model: "gpt-test", maxSteps: 20, maxRetries: 3, modelTimeout: .minutes(2))

        let arguments = PerstackCommandLine.arguments(program: ["npx", "perstack"], options: options, jobID: 7, resumeFrom: nil, answer: nil)

        #expect(arguments == [
            "npx", "perstack", "run", "--config", "/etc/p.toml", "--runtime", "local", "--job-id", "berth-7",
            "--provider", "openai", "--model", "gpt-test", "--max-steps", "20", "--max-retries", "3", "--timeout", "120000",
            "--env-path", "/berth/perstack.env", "--", "@org/writer@1.0", "-starts with a dash",
        ])
    }

    @Test func resumeUsesContinueJob() {
        let arguments = PerstackCommandLine.arguments(program: ["perstack"], options: Self.minimal, jobID: 42, resumeFrom: "cp-9", answer: nil)

        #expect(arguments == [
            "perstack", "run", "--config", "/app/perstack.toml", "--runtime", "local", "--continue-job", "berth-42",
            "--resume-from", "cp-9", "--env-path", "/berth/perstack.env", "--", "writer", "write it",
        ])
    }

    @Test func answerReplacesQuery() {
        let arguments = PerstackCommandLine.arguments(program: ["perstack"], options: Self.minimal, jobID: 42, resumeFrom: "cp-9", answer: "yes")

        #expect(arguments.suffix(5) == ["/berth/perstack.env", "-i", "--", "writer", "yes"])
        #expect(!arguments.contains("write it"))
    }

    @Test(arguments: ["c1-2", "01HZX", "a.b_c-d"])
    func checkpointIDAccepted(id: String) {
        #expect(PerstackCommandLine.isCheckpointID(id))
    }

    @Test(arguments: ["", "-x", "../x", "a/b", "a b", String(repeating: "a", count: 129)])
    func checkpointIDRejected(id: String) {
        #expect(!PerstackCommandLine.isCheckpointID(id))
    }
}

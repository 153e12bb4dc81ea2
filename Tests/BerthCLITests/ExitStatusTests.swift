import Foundation
import Testing

/// A command line that `berth` must reject as a usage error, and the text
/// its message must contain.
struct UsageCase: CustomTestStringConvertible, Sendable {
    let arguments: [String]
    let named: String

    var testDescription: String { arguments.joined(separator: " ") }
}

@Suite("Exit status")
struct ExitStatusTests {
    static let usageCases: [UsageCase] = [
        UsageCase(arguments: ["frobnicate"], named: "frobnicate"),
        UsageCase(arguments: ["help", "frobnicate"], named: "frobnicate"),
        UsageCase(arguments: ["ls", "--frobnicate"], named: "--frobnicate"),
        UsageCase(arguments: ["ls", "--stat", "queued"], named: "did you mean --state?"),
        UsageCase(arguments: ["hlep"], named: "did you mean help?"),
        UsageCase(arguments: ["help", "sumbit"], named: "did you mean submit?"),
        UsageCase(arguments: ["ls", "-x"], named: "-x"),
        UsageCase(arguments: ["ls", "stray"], named: "stray"),
        UsageCase(arguments: ["ls", "--json=yes"], named: "--json"),
        UsageCase(arguments: ["ls", "--limit"], named: "--limit"),
        UsageCase(arguments: ["ls", "--limit", "0"], named: "--limit 0"),
        UsageCase(arguments: ["ls", "--state", "bogus"], named: "bogus"),
        UsageCase(arguments: ["ls", "--state", "queued,bogus"], named: "bogus"),
        UsageCase(arguments: ["ls", "--label", "novalue"], named: "novalue"),
        UsageCase(arguments: ["ls", "--label", "a\"b=c"], named: "a\"b"),
        UsageCase(arguments: ["ls", "--queue", "a", "--queue", "b"], named: "--queue"),
        UsageCase(arguments: ["submit"], named: "--image"),
        UsageCase(arguments: ["submit", "--", "echo"], named: "--image"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20"], named: "command"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--"], named: "command"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "echo"], named: "echo"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--memory", "2x", "--", "true"], named: "2x"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--memory", "1k", "--", "true"], named: "1k"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--cpus", "many", "--", "true"], named: "many"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--memory", "512", "--", "true"], named: "--memory 512: "),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--memory", "512", "--", "true"], named: "counts bytes"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--cpus", "0", "--", "true"], named: "--cpus 0: "),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--timeout", "30", "--", "true"], named: "30"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--priority", "high", "--", "true"], named: "high"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--priority", "5000", "--", "true"], named: "5000"),
        UsageCase(arguments: ["submit", "--image", "alpine:3.20", "--env", "NOEQUALS", "--", "true"], named: "NOEQUALS"),
        UsageCase(arguments: ["submit", "--image", "-v", "--", "true"], named: "-v"),
        UsageCase(arguments: ["submit", "--image", "Alpine", "--", "true"], named: "Alpine"),
        UsageCase(
            arguments: ["submit", "--image", "alpine:3.20", "--run-at", "2026-12-24T09:00:00", "--", "true"],
            named: "2026-12-24T09:00:00"),
        UsageCase(arguments: ["submit", "--spec", "{\"image\":\"alpine:3.20\"}"], named: "command"),
        UsageCase(arguments: ["submit", "--spec", "{not json"], named: "JSON"),
        UsageCase(arguments: ["submit", "--spec", "{}", "--image", "alpine:3.20", "--", "true"], named: "--spec"),
        UsageCase(arguments: ["show"], named: "id"),
        UsageCase(arguments: ["show", "1", "2"], named: "one job id"),
        UsageCase(arguments: ["show", "abc"], named: "abc"),
        UsageCase(arguments: ["cancel", "0"], named: "0 is not a job id"),
        UsageCase(arguments: ["retry"], named: "id"),
        UsageCase(arguments: ["approve", "-1"], named: "-1"),
        UsageCase(arguments: ["prune"], named: "--older-than"),
        UsageCase(arguments: ["prune", "--older-than", "7"], named: "7"),
        UsageCase(arguments: ["prune", "--older-than", "1d", "--batch-size", "0"], named: "--batch-size 0"),
        UsageCase(arguments: ["--db"], named: "--db"),
        UsageCase(arguments: ["--db=", "ls"], named: "--db"),
    ]

    @Test("usage error exits 64", arguments: usageCases)
    func usageError(usage: UsageCase) throws {
        let sandbox = try Sandbox()
        let result = try sandbox.runWithoutDatabaseOption(
            usage.arguments.first == "--db" || usage.arguments.first == "--db="
                ? usage.arguments : ["--db", sandbox.databasePath] + usage.arguments)

        #expect(result.status == 64)
        #expect(result.standardOutput == "")
        #expect(result.standardError.contains(usage.named))
        #expect(result.standardError.contains("Run `berth"))
        #expect(!FileManager.default.fileExists(atPath: sandbox.databasePath))
    }

    @Test("usage error stores nothing")
    func usageErrorStoresNothing() throws {
        let sandbox = try Sandbox()
        _ = try sandbox.run(["submit", "--image", "alpine:3.20", "--memory", "2x", "--", "true"])

        #expect(try sandbox.listJobs().isEmpty)
    }

    @Test("unknown job id exits 1", arguments: ["show", "cancel", "retry", "approve"])
    func unknownJob(command: String) throws {
        let sandbox = try Sandbox()
        _ = try sandbox.submit()
        let result = try sandbox.run([command, "42"])

        #expect(result.status == 1)
        #expect(result.standardOutput == "")
        #expect(result.standardError.contains("job 42 not found"))
    }

    @Test("cancel with one unknown id")
    func cancelOneUnknown() throws {
        let sandbox = try Sandbox()
        let first = try sandbox.submit()
        let second = try sandbox.submit()

        let result = try sandbox.run(["cancel", "\(first)", "999", "\(second)"])
        let states = try sandbox.listJobs().map(\.state)

        #expect(result.status == 1)
        #expect(result.lines == ["job \(first) cancelled", "job \(second) cancelled"])
        #expect(result.standardError.contains("job 999 not found"))
        #expect(states == ["cancelled", "cancelled"])
    }

    @Test("illegal transition exits 1")
    func illegalTransition() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()

        let approve = try sandbox.run(["approve", "\(id)"])
        let retry = try sandbox.run(["retry", "\(id)"])

        #expect(approve.status == 1)
        #expect(approve.standardError.contains("job \(id)"))
        #expect(approve.standardError.contains("queued"))
        #expect(retry.status == 1)
        #expect(retry.standardError.contains("queued"))
    }

    @Test("missing batch file exits 1")
    func missingBatchFile() throws {
        let sandbox = try Sandbox()
        let path = sandbox.directory.appendingPathComponent("absent.jsonl").path
        let result = try sandbox.run(["submit", "--file", path])

        #expect(result.status == 1)
        #expect(result.standardError.contains(path))
    }
}

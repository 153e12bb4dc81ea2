import BerthTestSupport
import Foundation
import Testing

/// `berth events --attempt N` and `berth logs --attempt N`, on attempts a job has and has not.
@Suite("Attempt option")
struct AttemptOptionTests {
    /// Adds attempts `numbers` to job `id`, each with one event and one log line,
    /// as a worker would store them, so that no daemon is needed.
    static func addAttempts(_ numbers: [Int], to id: Int64, in sandbox: Sandbox) throws {
        for number in numbers {
            try sandbox.sqlite(
                """
                INSERT INTO attempts (job_id, attempt, worker_id, claimed_at) VALUES (\(id), \(number), 'worker-a', 1);
                INSERT INTO events (job_id, attempt, seq, at, type, is_json, payload)
                    VALUES (\(id), \(number), 1, 1, NULL, 0, 'event of attempt \(number)');
                INSERT INTO logs (job_id, attempt, seq, at, line) VALUES (\(id), \(number), 1, 1, 'log of attempt \(number)');
                UPDATE jobs SET attempt = \(number) WHERE id = \(id);
                """)
        }
    }

    @Test("existing attempt prints its lines", arguments: ["events", "logs"])
    func existingAttempt(command: String) throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        try Self.addAttempts([1, 2], to: id, in: sandbox)

        let result = try sandbox.run([command, "--attempt", "2", "\(id)"])

        #expect(result.status == 0)
        #expect(result.lines.count == 1)
        #expect(result.lines.first?.hasSuffix("\(command == "events" ? "event" : "log") of attempt 2") == true)
    }

    /// A request for an attempt the job does not have, and the end of the message it must print.
    struct MissingAttemptCase: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let existing: [Int]
        let finished: Bool
        let message: String

        var testDescription: String { arguments.joined(separator: " ") + " with attempts \(existing)" }
    }

    static let missingAttemptCases: [MissingAttemptCase] = [
        MissingAttemptCase(
            arguments: ["events", "--attempt", "9"], existing: [1, 2], finished: false,
            message: "has no attempt 9; its attempts are 1 to 2"),
        MissingAttemptCase(
            arguments: ["logs", "--attempt", "9"], existing: [1, 2], finished: false,
            message: "has no attempt 9; its attempts are 1 to 2"),
        MissingAttemptCase(
            arguments: ["events", "--attempt", "2"], existing: [1], finished: false,
            message: "has no attempt 2; its only attempt is 1"),
        MissingAttemptCase(
            arguments: ["logs", "--attempt", "2"], existing: [1, 3], finished: false,
            message: "has no attempt 2; its attempts are 1, 3"),
        MissingAttemptCase(
            arguments: ["events", "--attempt", "1"], existing: [], finished: false,
            message: "has no attempt 1; it has not started yet, so it has no attempts"),
        MissingAttemptCase(
            arguments: ["events", "--follow", "--attempt", "4"], existing: [1], finished: true,
            message: "has no attempt 4; its only attempt is 1"),
        MissingAttemptCase(
            arguments: ["logs", "--follow", "--attempt", "4"], existing: [1, 2], finished: true,
            message: "has no attempt 4; its attempts are 1 to 2"),
    ]

    @Test("missing attempt names the existing ones", arguments: missingAttemptCases)
    func missingAttempt(missing: MissingAttemptCase) throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        try Self.addAttempts(missing.existing, to: id, in: sandbox)
        if missing.finished {
            try sandbox.sqlite("UPDATE jobs SET state = 'dead', finished_at = 1 WHERE id = \(id)")
        }

        let result = try sandbox.run(missing.arguments + ["\(id)"])

        #expect(result.status == 1)
        #expect(result.standardOutput == "")
        #expect(result.standardError.contains("job \(id) \(missing.message)"), "\(result)")
        #expect(result.standardError.contains("`berth show \(id)` lists them"), "\(result)")
    }

    @Test("follow waits for a later attempt")
    func followUnfinished() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        try Self.addAttempts([1], to: id, in: sandbox)
        try sandbox.sqlite("UPDATE jobs SET state = 'failed' WHERE id = \(id)")

        let follower = try sandbox.start(["events", "--follow", "--attempt", "2", "\(id)"])
        defer { follower.killAndWait() }
        Thread.sleep(forTimeInterval: 0.5)
        let whileRetryPending = follower.poll()
        try sandbox.sqlite("UPDATE jobs SET state = 'dead', finished_at = 1 WHERE id = \(id)")
        let result = try follower.waitBlocking(timeout: Sandbox.commandTimeout)

        #expect(whileRetryPending == nil, "berth events exited while the job could still start attempt 2")
        #expect(result.status == 1)
        #expect(result.standardError.contains("job \(id) has no attempt 2; its only attempt is 1"))
    }
}

import Foundation
import Testing

@Suite("Submit, show and ls")
struct SubmitAndListTests {
    @Test("show json spec submits again")
    func specRoundTrip() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit(
            [
                "--queue", "batch", "--priority", "7", "--env", "MODE=fast", "--env", "EMPTY=", "--secret", "API_TOKEN",
                "--memory", "512m", "--cpus", "1.5", "--pids", "64", "--timeout", "1h30m", "--workspace-disk", "2g",
                "--max-output", "10m", "--max-attempts", "4", "--retry-delay", "10s", "--max-retry-delay", "10m",
                "--idempotency-key", "round-trip", "--run-at", "2030-01-02T03:04:05.678+09:00", "--label", "team=infra",
                "--label", "app/tier=web", "--hold",
            ],
            command: ["sh", "-c", "echo \"$MODE\" 'quoted arg'"])

        let shown = try sandbox.run(["show", "--json", "\(id)"])
        let job = try JSONValue.parse(shown.standardOutput)
        let spec = try #require(job["spec"])

        let other = try Sandbox()
        let resubmitted = try other.run(["submit", "--spec", spec.text])
        let newID = try #require(Int64(resubmitted.standardOutput.trimmingCharacters(in: .newlines)))
        let shownAgain = try JSONValue.parse(try other.run(["show", "--json", "\(newID)"]).standardOutput)

        #expect(shown.status == 0)
        #expect(shown.lines.count == 1)
        #expect(job["id"] == .integer(id))
        #expect(job["state"] == .string("held"))
        #expect(job["queue"] == .string("batch"))
        #expect(job["runAt"] == .string("2030-01-01T18:04:05.678Z"))
        #expect(job["attempts"] == .array([]))
        #expect(spec["command"] == .array([.string("sh"), .string("-c"), .string("echo \"$MODE\" 'quoted arg'")]))
        #expect(spec["secrets"] == .array([.string("API_TOKEN")]))
        #expect(spec["env"] == .object(["MODE": .string("fast"), "EMPTY": .string("")]))
        #expect(resubmitted.status == 0)
        #expect(shownAgain["spec"] == spec)
    }

    @Test("show and ls json literal")
    func jsonLiteral() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit(
            ["--label", "team=infra", "--memory", "512m", "--max-attempts", "3", "--idempotency-key", "k"],
            command: ["echo", "hi"])
        // Fixed times make the whole line predictable: 2027-01-01T09:00:00Z.
        try sandbox.sqlite("UPDATE jobs SET created_at = 1798794000000, updated_at = 1798794000000, run_at = 1798794000000")
        let common = """
            "attempt":0,ATTEMPTS"attemptsUsed":0,"cancelRequested":false,"createdAt":"2027-01-01T09:00:00.000Z",\
            "id":\(id),"idempotencyKey":"k","priority":0,"queue":"default","runAt":"2027-01-01T09:00:00.000Z",\
            "spec":{"command":["echo","hi"],"idempotencyKey":"k","image":"alpine:3.20","labels":{"team":"infra"},\
            "limits":{"memory":"512m"},"priority":0,"queue":"default","retry":{"maxAttempts":3}},\
            "state":"queued","updatedAt":"2027-01-01T09:00:00.000Z"
            """

        let shown = try sandbox.run(["show", "--json", "\(id)"])
        let listed = try sandbox.run(["ls", "--json"])

        #expect(shown.standardOutput == "{" + common.replacingOccurrences(of: "ATTEMPTS", with: "\"attempts\":[],") + "}\n")
        #expect(listed.standardOutput == "{" + common.replacingOccurrences(of: "ATTEMPTS", with: "") + "}\n")
    }

    @Test("show text lists fields")
    func showText() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit(["--label", "team=infra", "--idempotency-key", "k1"], command: ["echo", "two words"])
        let result = try sandbox.run(["show", "\(id)"])
        // Each line is `name:` padded with spaces, then the value.
        var fields: [String: String] = [:]
        for line in result.lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }

        #expect(result.status == 0)
        #expect(fields["id"] == "\(id)")
        #expect(fields["state"] == "queued")
        #expect(fields["image"] == "alpine:3.20")
        #expect(fields["command"] == "echo 'two words'")
        #expect(fields["labels"] == "team=infra")
        #expect(fields["idempotency key"] == "k1")
    }

    @Test("submit json reports created")
    func submitJSON() throws {
        let sandbox = try Sandbox()
        let arguments = ["submit", "--json", "--idempotency-key", "once", "--image", "alpine:3.20", "--", "true"]
        let first = try sandbox.run(arguments)
        let second = try sandbox.run(arguments)

        #expect(first.standardOutput == "{\"created\":true,\"id\":1}\n")
        #expect(second.standardOutput == "{\"created\":false,\"id\":1}\n")
        #expect(try sandbox.listJobs().count == 1)
    }

    @Test("ls json one object per line")
    func listJSONLines() throws {
        let sandbox = try Sandbox()
        for _ in 0..<3 {
            _ = try sandbox.submit()
        }
        let result = try sandbox.run(["ls", "--json"])
        let objects = try result.lines.map(JSONValue.parse)

        #expect(result.status == 0)
        #expect(objects.count == 3)
        for object in objects {
            #expect(object["spec"]?["image"] == .string("alpine:3.20"))
        }
    }

    @Test("ls newest first")
    func listNewestFirst() throws {
        let sandbox = try Sandbox()
        let ids = try (0..<5).map { _ in try sandbox.submit() }

        #expect(try sandbox.listJobs().map(\.id) == ids.reversed())
    }

    @Test("ls text table")
    func listTable() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit(command: ["echo", "hello"])
        let result = try sandbox.run(["ls"])

        #expect(result.status == 0)
        #expect(result.lines.first?.hasPrefix("ID  STATE   QUEUE    PRI  ATTEMPT  OUTCOME  CREATED") == true)
        #expect(result.lines.count == 2)
        #expect(result.lines.last?.hasPrefix("\(id)   queued  default  0    -        -        ") == true)
        #expect(result.lines.last?.hasSuffix("alpine:3.20  echo hello") == true)
    }

    /// The outcome column shows how the current attempt ended, and nothing
    /// for a job whose current attempt is still running.
    @Test("ls outcome of the current attempt")
    func listOutcome() throws {
        let sandbox = try Sandbox()
        let timedOut = try sandbox.submit()
        let rerunning = try sandbox.submit()
        let queued = try sandbox.submit()
        try sandbox.sqlite("""
            UPDATE jobs SET state = 'dead', attempt = 1, attempts_used = 1 WHERE id = \(timedOut);
            UPDATE jobs SET state = 'running', attempt = 2, attempts_used = 1, lease_owner = 'w' WHERE id = \(rerunning);
            INSERT INTO attempts (job_id, attempt, worker_id, claimed_at, outcome) VALUES
                (\(timedOut), 1, 'w', 0, 'timed_out'), (\(rerunning), 1, 'w', 0, 'out_of_memory'), (\(rerunning), 2, 'w', 0, NULL);
            """)

        let table = try sandbox.run(["ls"])
        let rows = Dictionary(uniqueKeysWithValues: table.lines.dropFirst().map { line in
            (Int64(line.split(separator: " ")[0]) ?? 0, line.split(separator: " ", omittingEmptySubsequences: true).map(String.init))
        })
        #expect(rows[timedOut]?[5] == "timed_out")
        #expect(rows[rerunning]?[5] == "-")
        #expect(rows[queued]?[5] == "-")

        let objects = try sandbox.run(["ls", "--json"]).lines.map(JSONValue.parse)
        let timedOutObject = objects.first { $0["id"] == .integer(timedOut) }
        #expect(timedOutObject?["outcome"] == .string("timed_out"))
        let rerunningObject = objects.first { $0["id"] == .integer(rerunning) }
        #expect(rerunningObject != nil)
        #expect(rerunningObject?["outcome"] == nil)
    }

    /// The limits and retry settings given at submit are shown, and a job
    /// without any shows neither line.
    @Test("show lists the spec's limits and retry settings")
    func showLimitsAndRetry() throws {
        let sandbox = try Sandbox()
        let limited = try sandbox.submit(["--memory", "512m", "--cpus", "0.5", "--timeout", "10m", "--max-attempts", "5"])
        let plain = try sandbox.submit()

        let limitedShow = try sandbox.run(["show", "\(limited)"])
        let plainShow = try sandbox.run(["show", "\(plain)"])

        #expect(limitedShow.lines.contains("limits:    memory 512m, cpus 0.5, timeout 10m; other limits from the queue"), "\(limitedShow)")
        #expect(limitedShow.lines.contains("retry:     max attempts 5; the rest from the queue"), "\(limitedShow)")
        #expect(!plainShow.lines.contains { $0.hasPrefix("limits:") || $0.hasPrefix("retry:") }, "\(plainShow)")
    }

    /// A multi-line shell script stays on one line of the table, with its
    /// newlines escaped as in a shell string.
    @Test("ls escapes newlines in commands")
    func commandNewlinesEscaped() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit(command: ["sh", "-c", "a\nb"])

        let listed = try sandbox.run(["ls"])
        #expect(listed.status == 0)
        #expect(listed.standardOutput.contains("sh -c a\\nb"), "\(listed.standardOutput)")
        #expect(!listed.standardOutput.contains("\u{FFFD}"))

        let shown = try sandbox.run(["show", "\(id)"])
        #expect(shown.standardOutput.contains("a\\nb"), "\(shown.standardOutput)")
    }

    /// Stored output may hold control characters: a tab is printed as it is,
    /// an escape sequence is defused.
    @Test("events keep tabs and defuse escapes")
    func eventsControlCharacters() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        try sandbox.sqlite("""
            UPDATE jobs SET state = 'succeeded', attempt = 1 WHERE id = \(id);
            INSERT INTO attempts (job_id, attempt, worker_id, claimed_at, outcome) VALUES (\(id), 1, 'w', 0, 'succeeded');
            INSERT INTO events (job_id, attempt, seq, at, is_json, payload) VALUES (\(id), 1, 1, 0, 0, 'a' || char(9) || 'b' || char(27) || '[2J');
            """)

        let result = try sandbox.run(["events", "\(id)"])
        #expect(result.status == 0)
        #expect(result.standardOutput.hasSuffix("a\tb\\x1B[2J\n"), "\(result.standardOutput)")
    }

    /// A job that never ran has no output, so the commands print the reason
    /// instead of nothing, on standard error so that scripts read no line.
    @Test("output of unstarted job explained", arguments: ["logs", "events"])
    func outputOfUnstartedJob(command: String) throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()

        let result = try sandbox.run([command, "\(id)"])

        #expect(result.status == 0)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.contains("job \(id) has not started yet"), "\(result)")
    }

    /// A retried job's log contains lines of several attempts, so each printed
    /// line names its attempt and number, in text and in JSON.
    @Test("logs name the attempt of each line")
    func logsNameAttempts() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        try sandbox.sqlite("""
            UPDATE jobs SET state = 'succeeded', attempt = 2 WHERE id = \(id);
            INSERT INTO attempts (job_id, attempt, worker_id, claimed_at, outcome) VALUES (\(id), 1, 'w', 0, 'failed');
            INSERT INTO attempts (job_id, attempt, worker_id, claimed_at, outcome) VALUES (\(id), 2, 'w', 0, 'succeeded');
            INSERT INTO logs (job_id, attempt, seq, at, line) VALUES (\(id), 1, 1, 0, 'connection refused');
            INSERT INTO logs (job_id, attempt, seq, at, truncated, line) VALUES (\(id), 2, 1, 0, 1, 'retrying' || char(27) || '[2J');
            INSERT INTO logs (job_id, attempt, seq, at, line) VALUES (\(id), 2, 2, 0, 'done');
            """)

        let text = try sandbox.run(["logs", "\(id)"])
        #expect(text.status == 0)
        let expected = [("[1:1 ", "] connection refused"), ("[2:1 ", "] retrying\\x1B[2J"), ("[2:2 ", "] done")]
        #expect(text.lines.count == expected.count)
        for (line, (prefix, suffix)) in zip(text.lines, expected) {
            #expect(line.hasPrefix(prefix), "\(line)")
            #expect(line.hasSuffix(suffix), "\(line)")
        }

        let json = try sandbox.run(["logs", "--json", "--attempt", "2", "\(id)"])
        #expect(json.status == 0)
        let objects = try json.lines.map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 2)
        #expect(objects[0]["attempt"] as? Int == 2)
        #expect(objects[0]["seq"] as? Int == 1)
        #expect(objects[0]["truncated"] as? Bool == true)
        #expect(objects[0]["line"] as? String == "retrying\u{1B}[2J")
        #expect(objects[0]["at"] as? String == "1970-01-01T00:00:00.000Z")
        #expect(objects[1]["line"] as? String == "done")
        #expect(objects[1]["truncated"] as? Bool == false)
    }

    @Test("ls limit")
    func listLimit() throws {
        let sandbox = try Sandbox()
        let ids = try (0..<5).map { _ in try sandbox.submit() }

        #expect(try sandbox.listJobs(["--limit", "2"]).map(\.id) == [ids[4], ids[3]])
        #expect(try sandbox.run(["ls", "--json", "--limit", "1"]).lines.count == 1)
    }

    @Test("ls default limit is 50")
    func listDefaultLimit() throws {
        let sandbox = try Sandbox()
        let lines = (0..<60).map { "{\"image\":\"alpine:3.20\",\"command\":[\"echo\",\"\($0)\"]}" }
        let path = try sandbox.write(lines.joined(separator: "\n"), to: "sixty.jsonl")
        _ = try sandbox.run(["submit", "--file", path])

        #expect(try sandbox.run(["ls", "--json"]).lines.count == 50)
        #expect(try sandbox.listJobs().count == 60)
    }

    @Test("ls filters by state")
    func listByState() throws {
        let sandbox = try Sandbox()
        let held = try sandbox.submit(["--hold"])
        let queued = try sandbox.submit()
        let cancelled = try sandbox.submit()
        _ = try sandbox.run(["cancel", "\(cancelled)"])

        #expect(try sandbox.listJobs(["--state", "held"]).map(\.id) == [held])
        #expect(try sandbox.listJobs(["--state", "queued"]).map(\.id) == [queued])
        #expect(try sandbox.listJobs(["--state", "held,cancelled"]).map(\.id) == [cancelled, held])
        #expect(try sandbox.listJobs(["--state", "held", "--state", "queued"]).map(\.id) == [queued, held])
        #expect(try sandbox.listJobs(["--state", "running"]).isEmpty)
    }

    @Test("ls filters by queue")
    func listByQueue() throws {
        let sandbox = try Sandbox()
        let fast = try sandbox.submit(["--queue", "fast"])
        _ = try sandbox.submit(["--queue", "slow"])
        let defaultQueue = try sandbox.submit()

        #expect(try sandbox.listJobs(["--queue", "fast"]).map(\.id) == [fast])
        #expect(try sandbox.listJobs(["--queue", "default"]).map(\.id) == [defaultQueue])
        #expect(try sandbox.listJobs(["--queue", "none"]).isEmpty)
    }

    @Test("ls filters by label")
    func listByLabel() throws {
        let sandbox = try Sandbox()
        let web = try sandbox.submit(["--label", "team=infra", "--label", "app/tier=web"])
        let database = try sandbox.submit(["--label", "team=infra", "--label", "app/tier=db"])
        _ = try sandbox.submit(["--label", "team=data"])
        _ = try sandbox.submit()

        #expect(try sandbox.listJobs(["--label", "team=infra"]).map(\.id) == [database, web])
        #expect(try sandbox.listJobs(["--label", "team=infra", "--label", "app/tier=web"]).map(\.id) == [web])
        #expect(try sandbox.listJobs(["--label", "team=nobody"]).isEmpty)
        #expect(try sandbox.listJobs(["--label", "team=infra", "--queue", "other"]).isEmpty)
    }

    @Test("BERTH_DB selects database")
    func databaseFromEnvironment() throws {
        let sandbox = try Sandbox()
        let submitted = try sandbox.runWithoutDatabaseOption(
            ["submit", "--image", "alpine:3.20", "--", "true"], environment: ["BERTH_DB": sandbox.databasePath])
        let viaOption = try sandbox.listJobs()
        let otherPath = sandbox.directory.appendingPathComponent("other.db").path
        let overridden = try sandbox.runWithoutDatabaseOption(
            ["ls", "--json", "--db", otherPath], environment: ["BERTH_DB": sandbox.databasePath])

        #expect(submitted.status == 0)
        #expect(viaOption.count == 1)
        #expect(overridden.status == 1, "--db must win over BERTH_DB: \(overridden)")
        #expect(overridden.standardError.contains("no database at \(otherPath)"), "\(overridden)")
        #expect(overridden.standardOutput == "")
    }
}

@Suite("Show a Perstack job")
struct ShowPerstackJobTests {
    @Test("show names the expert and the query")
    func showNamesExpertAndQuery() throws {
        let sandbox = try Sandbox()
        let spec = #"{"image":"alpine:3.20","command":["perstack"],"adapter":{"type":"perstack","expert":"writer","query":"Summarize the report","model":"m-1","maxSteps":50}}"#
        let submitted = try sandbox.run(["submit", "--hold", "--spec", spec])
        let id = submitted.standardOutput.trimmingCharacters(in: .newlines)

        let showResult = try sandbox.run(["show", id])
        // Each line is "label:" padded with spaces, then the value.
        var fields: [String: String] = [:]
        for line in showResult.lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }

        #expect(submitted.status == 0, "\(submitted)")
        #expect(fields["adapter"] == "perstack", "\(showResult)")
        #expect(fields["expert"] == "writer", "\(showResult)")
        #expect(fields["query"] == "Summarize the report", "\(showResult)")
        #expect(fields["runtime"] == "model m-1, max steps 50", "\(showResult)")
    }
}

import Foundation
import Testing

@Suite("Cancel, approve, retry, stats and prune")
struct JobActionTests {
    @Test("cancel shows in ls")
    func cancel() throws {
        let sandbox = try Sandbox()
        let kept = try sandbox.submit()
        let cancelled = try sandbox.submit()
        let result = try sandbox.run(["cancel", "\(cancelled)"])
        let jobs = try sandbox.listJobs()

        #expect(result.status == 0)
        #expect(result.lines == ["job \(cancelled) cancelled"])
        #expect(jobs.map(\.state) == ["cancelled", "queued"])
        #expect(jobs.map(\.id) == [cancelled, kept])
        #expect(jobs.first?.finishedAt != nil)
    }

    /// An id given twice on one command line names one job, so the second
    /// mention neither fails as "already cancelled" nor prints again.
    @Test("repeated id acts once")
    func repeatedIDActsOnce() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()

        let result = try sandbox.run(["cancel", "\(id)", "\(id)"])

        #expect(result.status == 0)
        #expect(result.lines == ["job \(id) cancelled"])
    }

    @Test("cancel twice exits 1")
    func cancelTwice() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        _ = try sandbox.run(["cancel", "\(id)"])
        let again = try sandbox.run(["cancel", "\(id)"])

        #expect(again.status == 1)
        #expect(again.standardError.contains("job \(id)"))
        #expect(again.standardError.contains("cancelled"))
    }

    @Test("cancel running job requests stop")
    func cancelRunning() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        // The test plays the worker that claimed the job, so no daemon is needed.
        try sandbox.sqlite("UPDATE jobs SET state = 'running', attempt = 1, lease_owner = 'worker-a' WHERE id = \(id)")

        let result = try sandbox.run(["cancel", "\(id)"])
        let job = try #require(try sandbox.listJobs().first)
        let table = try sandbox.run(["ls"])

        #expect(result.status == 0)
        #expect(result.standardOutput.contains("cancel requested"))
        #expect(job.state == "running")
        #expect(job.cancelRequested)
        #expect(table.lines.dropFirst().first?.contains("running*") == true)
        #expect(table.lines.last?.hasPrefix("* cancel requested") == true)
    }

    @Test("approve releases held job")
    func approve() throws {
        let sandbox = try Sandbox()
        let held = try sandbox.submit(["--hold"])
        let before = try sandbox.listJobs().map(\.state)
        let result = try sandbox.run(["approve", "\(held)"])
        let after = try sandbox.listJobs().map(\.state)

        #expect(before == ["held"])
        #expect(result.status == 0)
        #expect(result.lines == ["job \(held) approved and queued"])
        #expect(after == ["queued"])
    }

    @Test("retry queues cancelled job")
    func retry() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        _ = try sandbox.run(["cancel", "\(id)"])
        let result = try sandbox.run(["retry", "\(id)"])
        let job = try #require(try sandbox.listJobs().first)

        #expect(result.status == 0)
        #expect(result.lines == ["job \(id) queued"])
        #expect(job.state == "queued")
        #expect(job.finishedAt == nil)
    }

    @Test("retry queues dead job")
    func retryDead() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        try sandbox.sqlite("UPDATE jobs SET state = 'dead', attempts_used = 3, finished_at = 1 WHERE id = \(id)")

        let result = try sandbox.run(["retry", "\(id)"])
        let shown = try JSONValue.parse(try sandbox.run(["show", "--json", "\(id)"]).standardOutput)

        #expect(result.status == 0)
        #expect(shown["state"] == .string("queued"))
        #expect(shown["attemptsUsed"] == .integer(0))
    }

    @Test("actions take several ids")
    func severalIDs() throws {
        let sandbox = try Sandbox()
        let ids = try (0..<3).map { _ in try sandbox.submit(["--hold"]) }
        let result = try sandbox.run(["approve"] + ids.map { "\($0)" })

        #expect(result.status == 0)
        #expect(result.lines.count == 3)
        #expect(try sandbox.listJobs(["--state", "queued"]).count == 3)
    }

    @Test("stats counts by queue and state")
    func stats() throws {
        let sandbox = try Sandbox()
        _ = try sandbox.submit()
        _ = try sandbox.submit()
        _ = try sandbox.submit(["--hold"])
        let cancelled = try sandbox.submit(["--queue", "slow"])
        _ = try sandbox.submit(["--queue", "slow"])
        _ = try sandbox.run(["cancel", "\(cancelled)"])

        let result = try sandbox.run(["stats", "--json"])
        let rows = try result.lines.map(JSONValue.parse)
        let table = try sandbox.run(["stats"])

        #expect(result.status == 0)
        #expect(rows.map { $0["queue"] } == [.string("default"), .string("slow")])
        #expect(rows.first?["counts"]?["queued"] == .integer(2))
        #expect(rows.first?["counts"]?["held"] == .integer(1))
        #expect(rows.first?["counts"]?["cancelled"] == .integer(0))
        #expect(rows.last?["counts"]?["queued"] == .integer(1))
        #expect(rows.last?["counts"]?["cancelled"] == .integer(1))
        #expect(rows.last?["counts"]?["running"] == .integer(0))
        #expect(table.lines.first?.hasPrefix("QUEUE    HELD  QUEUED  RUNNING") == true)
        #expect(table.lines.count == 3)
    }

    @Test("stats on empty database")
    func statsEmpty() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        _ = try sandbox.run(["cancel", "\(id)"])
        _ = try sandbox.run(["prune", "--older-than", "0s"])
        let result = try sandbox.run(["stats", "--json"])

        #expect(result.status == 0)
        #expect(result.standardOutput == "")
    }

    @Test("prune removes old finished jobs")
    func prune() throws {
        let sandbox = try Sandbox()
        let oldCancelled = try sandbox.submit()
        let oldSucceeded = try sandbox.submit()
        let recentCancelled = try sandbox.submit()
        let queued = try sandbox.submit()
        let held = try sandbox.submit(["--hold"])
        _ = try sandbox.run(["cancel", "\(oldCancelled)", "\(recentCancelled)"])
        let tenDaysAgo = (Date().timeIntervalSince1970 - 10 * 86_400) * 1000
        try sandbox.sqlite(
            """
            UPDATE jobs SET finished_at = \(Int64(tenDaysAgo)) WHERE id = \(oldCancelled);
            UPDATE jobs SET state = 'succeeded', finished_at = \(Int64(tenDaysAgo)) WHERE id = \(oldSucceeded);
            UPDATE jobs SET finished_at = \(Int64(tenDaysAgo)) WHERE id = \(queued);
            """)

        let result = try sandbox.run(["prune", "--older-than", "7d", "--json"])
        let remaining = try sandbox.listJobs().map(\.id)

        #expect(result.status == 0)
        #expect(result.standardOutput == "{\"checkpointFiles\":0,\"jobs\":2}\n")
        #expect(remaining == [held, queued, recentCancelled])
    }

    @Test("prune zero age after cancel")
    func pruneRightAfterCancel() throws {
        let sandbox = try Sandbox()
        let cancelled = try sandbox.submit()
        let queued = try sandbox.submit()
        _ = try sandbox.run(["cancel", "\(cancelled)"])

        let keep = try sandbox.run(["prune", "--older-than", "1h"])
        let countAfterKeep = try sandbox.listJobs().count
        let prune = try sandbox.run(["prune", "--older-than", "0s"])

        #expect(keep.status == 0)
        #expect(keep.standardOutput.hasPrefix("pruned 0 jobs"))
        #expect(countAfterKeep == 2)
        #expect(prune.status == 0)
        #expect(prune.standardOutput.hasPrefix("pruned 1 jobs"))
        #expect(try sandbox.listJobs().map(\.id) == [queued])
    }

    @Test("prune in small batches")
    func pruneBatches() throws {
        let sandbox = try Sandbox()
        let ids = try (0..<7).map { _ in try sandbox.submit() }
        _ = try sandbox.run(["cancel"] + ids.map { "\($0)" })
        try sandbox.sqlite("UPDATE jobs SET finished_at = 1")

        let result = try sandbox.run(["prune", "--older-than", "1d", "--batch-size", "2", "--json"])

        #expect(result.standardOutput == "{\"checkpointFiles\":0,\"jobs\":7}\n")
        #expect(try sandbox.listJobs().isEmpty)
    }
}

@Suite("Pending input in JSON")
struct PendingInputJSONTests {
    @Test("ls --json prints pendingInput as an object")
    func pendingInputIsAnObject() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        let other = try sandbox.submit()
        let pending = #"{"adapter":"perstack","checkpoint":"c1.json","expert":"writer","toolCalls":[{"id":"t1","toolName":"ask","arguments":"{\"q\":1}"}]}"#
        _ = try sandbox.sqlite(
            """
            UPDATE jobs SET state = 'waiting', pending_input = '\(pending)' WHERE id = \(id);
            UPDATE jobs SET state = 'waiting', pending_input = 'not an object' WHERE id = \(other);
            """)

        let result = try sandbox.run(["ls", "--state", "waiting", "--json"])
        let objects = try result.lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let known = objects.first { ($0["id"] as? Int) == Int(id) }?["pendingInput"] as? [String: Any]
        let unknown = objects.first { ($0["id"] as? Int) == Int(other) }?["pendingInput"] as? String

        #expect(result.status == 0, "\(result)")
        #expect(known?["checkpoint"] as? String == "c1.json", "\(result)")
        #expect((known?["toolCalls"] as? [[String: Any]])?.first?["toolName"] as? String == "ask", "\(result)")
        #expect(unknown == "not an object", "\(result)")
    }
}

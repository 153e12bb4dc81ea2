import Foundation
import Testing

@Suite("Wait")
struct WaitTests {
    /// Ends job `id` in `state` as a worker would, so that no daemon is needed.
    static func finish(_ id: Int64, as state: String, in sandbox: Sandbox) throws {
        try sandbox.sqlite("UPDATE jobs SET state = '\(state)', finished_at = 1 WHERE id = \(id)")
    }

    @Test("all succeeded exits 0")
    func allSucceeded() throws {
        let sandbox = try Sandbox()
        let first = try sandbox.submit()
        let second = try sandbox.submit()
        try Self.finish(first, as: "succeeded", in: sandbox)
        try Self.finish(second, as: "succeeded", in: sandbox)

        let result = try sandbox.run(["wait", "\(first)", "\(second)"])

        #expect(result.status == 0)
        #expect(result.lines == ["job \(first) succeeded", "job \(second) succeeded"])
        #expect(result.standardError == "")
    }

    @Test("negative timeout named as such")
    func negativeTimeout() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()

        let result = try sandbox.run(["wait", "--timeout", "-5s", "\(id)"])

        #expect(result.status == 64)
        #expect(result.standardError.contains("--timeout -5s: a duration cannot be negative"), "\(result.standardError)")
    }

    @Test("dead job exits 1")
    func deadJob() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        try Self.finish(id, as: "dead", in: sandbox)

        let result = try sandbox.run(["wait", "\(id)"])

        #expect(result.status == 1)
        #expect(result.lines == ["job \(id) dead"])
    }

    @Test("timeout exits 75 naming unfinished jobs")
    func timeoutUnfinished() throws {
        let sandbox = try Sandbox()
        let succeeded = try sandbox.submit()
        let queued = try sandbox.submit()
        let held = try sandbox.submit(["--hold"])
        try Self.finish(succeeded, as: "succeeded", in: sandbox)

        let result = try sandbox.run(["wait", "--timeout", "300ms", "\(succeeded)", "\(queued)", "\(held)"])

        #expect(result.status == 75)
        #expect(result.lines == ["job \(succeeded) succeeded"])
        #expect(result.standardError.contains("timed out after 300ms"))
        #expect(result.standardError.contains("job \(queued) (queued), job \(held) (held)"))
        #expect(result.standardError.contains("berth wait \(queued) \(held)"))
        #expect(!result.standardError.contains("job \(succeeded) ("))
    }

    @Test("timeout names the start of a job not due yet")
    func timeoutNamesRunAt() throws {
        let sandbox = try Sandbox()
        let later = try sandbox.submit(["--run-at", "2099-01-01T09:00:00Z"])

        let result = try sandbox.run(["wait", "--timeout", "200ms", "\(later)"])

        #expect(result.status == 75)
        #expect(result.standardError.contains("job \(later) (queued, due at 2099-01-01T09:00:00.000Z)"), "\(result.standardError)")
    }

    @Test("timeout after a failure exits 1")
    func timeoutAfterFailure() throws {
        let sandbox = try Sandbox()
        let cancelled = try sandbox.submit()
        let queued = try sandbox.submit()
        _ = try sandbox.run(["cancel", "\(cancelled)"])

        let result = try sandbox.run(["wait", "--timeout", "300ms", "\(cancelled)", "\(queued)"])

        #expect(result.status == 1)
        #expect(result.lines == ["job \(cancelled) cancelled"])
        #expect(result.standardError.contains("timed out after 300ms"))
        #expect(result.standardError.contains("job \(queued) (queued)"))
    }

    @Test("waiting job is unfinished at timeout")
    func waitingJobUnfinished() throws {
        let sandbox = try Sandbox()
        let id = try sandbox.submit()
        try sandbox.sqlite("UPDATE jobs SET state = 'waiting' WHERE id = \(id)")

        let result = try sandbox.run(["wait", "--timeout", "200ms", "--json", "\(id)"])

        #expect(result.status == 75)
        #expect(result.standardOutput == "")
        #expect(result.standardError.contains("job \(id) (waiting)"))
    }
}

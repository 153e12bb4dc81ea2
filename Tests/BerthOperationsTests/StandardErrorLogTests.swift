import BerthTestSupport
import Foundation
import Testing

/// Log records on standard error when the daemon does not run under systemd,
/// and when the journal's socket cannot be reached.
@Suite("standard error logging")
struct StandardErrorLogTests {
    @Test("readable lines with ids")
    func readableLines() async throws {
        _ = try await TestImage.require()
        let sandbox = try OperationsSandbox()
        try sandbox.writeConfiguration()
        try await sandbox.createDatabase()
        let job = try await sandbox.submit(["--secret", "OPS_TOKEN"], command: ["berth-test-job", "print-env", "OPS_TOKEN", "exit", "0"])
        let secret = "ops-secret-" + UUID().uuidString

        // JOURNAL_STREAM naming another file must not switch to the journal.
        let daemon = try sandbox.startDaemon(environment: ["OPS_TOKEN": secret, "JOURNAL_STREAM": "1:1"])
        _ = try await sandbox.waitUntilFinished([job])
        daemon.signal(SIGTERM)
        let result = try await daemon.wait(timeout: .seconds(30))

        #expect(result.status == 0, "\(result)")
        let lines = result.standardError.split(separator: "\n").map(String.init)
        let claim = try #require(lines.first { $0.contains(" info claimed job ") }, "\(result)")
        #expect(claim.contains("JOB_ID=\(job)"))
        #expect(claim.contains("ATTEMPT=1"))
        #expect(claim.contains("QUEUE=default"))
        let started = try #require(lines.first { $0.contains(" info started container ") })
        #expect(started.contains("CONTAINER_ID="))
        #expect(started.contains("WORKER_ID=\(sandbox.workerID)"))
        // Each line starts with a UTC time such as 2026-12-04T18:30:00.123Z.
        for line in lines {
            #expect(line.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warning|error) "#, options: .regularExpression) != nil, "\(line)")
        }
        #expect(!result.standardError.contains(secret))
    }

    @Test("priority prefix without the journal socket")
    func priorityPrefixFallback() async throws {
        let sandbox = try OperationsSandbox()
        try sandbox.writeConfiguration()
        let daemon = try sandbox.startDaemon(environment: ["BERTH_JOURNAL_SOCKET": sandbox.directory + "/no-journal.sock"])

        let deadline = ContinuousClock.now + .seconds(60)
        while !daemon.standardErrorSoFar.contains("daemon started"), ContinuousClock.now < deadline {
            if let early = daemon.poll() {
                Issue.record("the daemon exited early: \(early)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        daemon.signal(SIGTERM)
        let result = try await daemon.wait(timeout: .seconds(30))

        #expect(result.status == 0, "\(result)")
        let lines = result.standardError.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("<6>configuration loaded CONFIG_FILE=") }, "\(result)")
        #expect(lines.contains { $0.hasPrefix("<6>daemon started WORKER_ID=\(sandbox.workerID)") }, "\(result)")
        #expect(lines.contains { $0.hasPrefix("<6>daemon stopped") }, "\(result)")
        for line in lines {
            #expect(line.range(of: #"^<[3467]>"#, options: .regularExpression) != nil, "\(line)")
        }
    }
}

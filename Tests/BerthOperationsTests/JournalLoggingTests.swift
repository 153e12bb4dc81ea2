import Foundation
import Testing

/// The daemon's records in journald's native protocol, captured on a socket
/// the test named with `BERTH_JOURNAL_SOCKET`.
@Suite("journal logging")
struct JournalLoggingTests {
    @Test("records carry priority and identifier")
    func priorityAndIdentifier() async throws {
        let scenario = try await DaemonScenario.shared.value
        #expect(!scenario.journal.isEmpty)
        for record in scenario.journal {
            #expect(["3", "4", "6", "7"].contains(record["PRIORITY"]), "\(record)")
            #expect(record["SYSLOG_IDENTIFIER"] == "berth", "\(record)")
            #expect(!record.message.isEmpty, "\(record)")
        }
    }

    @Test("claims and starts carry job ids")
    func claimsCarryIDs() async throws {
        let scenario = try await DaemonScenario.shared.value
        for id in [scenario.printingJob, scenario.failingJob, scenario.adoptedJob] {
            let claims = scenario.journal.filter { $0.message == "claimed job" && $0["JOB_ID"] == "\(id)" }
            #expect(!claims.isEmpty, "no claim record for job \(id)")
            for claim in claims {
                #expect(claim["ATTEMPT"] != nil)
                #expect(claim["QUEUE"] == "default")
            }
            let starts = scenario.journal.filter { $0.message == "started container" && $0["JOB_ID"] == "\(id)" }
            #expect(!starts.isEmpty, "no start record for job \(id)")
            for start in starts {
                #expect(start["CONTAINER_ID"]?.count ?? 0 >= 12)
                #expect(start["WORKER_ID"] == scenario.workerID)
            }
        }
    }

    @Test("finish, retry and death are logged")
    func outcomesLogged() async throws {
        let scenario = try await DaemonScenario.shared.value
        let failing = scenario.journal.filter { $0["JOB_ID"] == "\(scenario.failingJob)" }
        let retry = failing.first { $0.message.contains("retry scheduled") }
        #expect(retry?["ATTEMPT"] == "1")
        #expect(retry?["EXIT_CODE"] == "3")
        let dead = failing.first { $0.message.hasPrefix("job is dead") }
        #expect(dead?["ATTEMPT"] == "2")
        #expect(dead?["PRIORITY"] == "4")

        let succeeded = scenario.journal.filter { $0.message == "job succeeded" }.compactMap { $0["JOB_ID"] }
        #expect(Set(succeeded) == ["\(scenario.printingJob)", "\(scenario.adoptedJob)"])
    }

    @Test("start and stop are logged")
    func lifecycleLogged() async throws {
        let scenario = try await DaemonScenario.shared.value
        let loaded = scenario.journal.first { $0.message == "configuration loaded" }
        #expect(loaded?["CONFIG_FILE"]?.hasSuffix("berth.json5") == true)
        let started = scenario.journal.first { $0.message == "daemon started" }
        #expect(started?["WORKER_ID"] == scenario.workerID)
        #expect(started?["BERTH_VERSION"] != nil)
        #expect(started?["ENGINE"]?.hasPrefix("podman ") == true)
        #expect(scenario.journal.contains { $0.message == "shutting down: draining running jobs" })
        #expect(scenario.journal.contains { $0.message == "daemon stopped" })
    }

    @Test("no secret value in any record")
    func noSecret() async throws {
        let scenario = try await DaemonScenario.shared.value
        // The job printed the secret, so the value did reach it; the records must not carry it.
        #expect(scenario.eventPayloads.contains { $0.contains(scenario.secret) })
        let secret = Array(scenario.secret.utf8)
        for record in scenario.journal {
            #expect(!Self.contains(record.raw, secret), "\(record)")
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}

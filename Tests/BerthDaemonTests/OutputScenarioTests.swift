import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension PodmanScenarios {
    @Suite struct OutputScenarios {
        @Test func eventsLogsAndOddLinesAreStored() async throws {
            let sandbox = try DaemonSandbox()
            let daemon = try sandbox.startDaemon(overrides: ["output": ["maxLineBytes": "1k"]])
            let id = try await sandbox.submit([
                "berth-test-job",
                "stdout", #"{"type":"step","n":1}"#,
                "stdout", "plain text",
                "stderr", "oops",
                "stdout", #"{"type":"step","n":2}"#,
                "invalid-utf8",
                "long-line", "5000",
                "events", "2", "0",
                "no-newline", "last words",
                "exit", "0",
            ])

            let waited = try await sandbox.berth(["wait", "--timeout", "60s", "\(id)"])
            #expect(waited.status == 0, "\(waited)")
            #expect(waited.standardOutput == "job \(id) succeeded\n")

            let events = try sandbox.events(id)
            try #require(events.count == 8, "events: \(events.map(\.payload))")
            #expect(events.map(\.sequence) == Array(1...8))
            #expect(events.allSatisfy { $0.attempt == 1 })

            #expect(events[0].payload == #"{"type":"step","n":1}"#)
            #expect(events[0].type == "step")
            #expect(events[0].isJSON)
            #expect(events[1].payload == "plain text")
            #expect(!events[1].isJSON)
            #expect(events[1].type == nil)
            #expect(events[2].type == "step")

            #expect(events[3].payload == "bad \u{FFFD}\u{FFFD} bytes")
            #expect(!events[3].isJSON)

            #expect(events[4].truncated)
            #expect(events[4].payload.utf8.count == 1024)
            #expect(events[4].payload.allSatisfy { $0 == "x" })

            #expect(events[5].payload == #"{"event":"tick","n":1}"#)
            #expect(events[5].isJSON)
            #expect(events[5].type == nil)
            #expect(events[6].payload == #"{"event":"tick","n":2}"#)

            #expect(events[7].payload == "last words")
            #expect(!events[7].truncated)

            let logs = try sandbox.logs(id)
            #expect(logs.map(\.line) == ["oops"])
            let printedLogs = try await sandbox.berth(["logs", "\(id)"])
            #expect(printedLogs.standardOutput.hasPrefix("[1:1 "), "\(printedLogs.standardOutput)")
            #expect(printedLogs.standardOutput.hasSuffix("] oops\n"), "\(printedLogs.standardOutput)")

            let printedEvents = try await sandbox.berth(["events", "--json", "\(id)"])
            let objects = try printedEvents.nonEmptyLines.map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            #expect(objects.count == 8)
            #expect(objects[0]["type"] as? String == "step")
            #expect(objects[1]["json"] as? Bool == false)
            #expect(objects[1]["line"] as? String == "plain text")
            #expect(objects[4]["truncated"] as? Bool == true)

            let attempt = try #require(try sandbox.attempts(id).first)
            #expect(attempt.outcome == .succeeded)
            #expect(attempt.exitCode == 0)
            #expect(attempt.workerID == daemon.workerID)
            let containerID = try #require(attempt.containerID)
            try await waitUntil("the container of job \(id) is removed") {
                try await !sandbox.containerExists(containerID)
            }

            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit().code == 0)
            #expect(daemon.log.contains("daemon stopped"))
            let worker = try #require(try sandbox.store.workers().first { $0.id == daemon.workerID })
            #expect(worker.stoppedAt != nil)
        }

        /// Podman 4.3's `logs --follow` could stop at the container's exit
        /// before it had read the whole log, so a job that prints fast and
        /// exits at once is the case where lines went missing.
        @Test func fastOutputBeforeExitIsAllStored() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let lines = 200_000
            let id = try await sandbox.submit(["sh", "-c", "yes '{\"type\":\"tick\"}' | head -n \(lines); echo done >&2"])

            let waited = try await sandbox.berth(["wait", "--timeout", "300s", "\(id)"])
            #expect(waited.status == 0, "\(waited)")

            let store = try sandbox.store
            let events = try store.events(jobID: id, limit: lines + 10)
            #expect(events.count == lines)
            #expect(events.last?.sequence == Int64(lines))
            #expect(events.allSatisfy { $0.type == "tick" })
            #expect(try sandbox.logs(id).map(\.line) == ["done"])

            // The attempt's directory, with the log file and conmon's working directory, goes with the container.
            let containers = sandbox.directory.appendingPathComponent("run/containers")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: containers.path)) ?? []
            #expect(left.isEmpty, "left in \(containers.path): \(left)")
        }

        @Test func followPrintsEventsUntilJobEnds() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            let id = try await sandbox.submit(["berth-test-job", "events", "5", "0.2", "exit", "0"])

            let followed = try await sandbox.berth(["events", "--follow", "\(id)"])
            #expect(followed.status == 0, "\(followed)")
            #expect(followed.nonEmptyLines.count == 5)
            #expect(followed.nonEmptyLines.allSatisfy { $0.contains(#"{"event":"tick","n":"#) }, "\(followed.nonEmptyLines)")
            #expect(try sandbox.job(id).state == .succeeded)
        }

        @Test func outputCapCountsDroppedLines() async throws {
            let sandbox = try DaemonSandbox()
            try sandbox.startDaemon()
            // 200 events of 22 to 24 bytes each, far past 1 KiB, a short line that
            // would still fit, and one line on standard error.
            let id = try await sandbox.submit(
                ["berth-test-job", "events", "200", "0", "stdout", "x", "stderr", "after the flood", "exit", "0"],
                options: ["--max-output", "1k"])

            let job = try await sandbox.waitForState(id, [.succeeded, .dead, .failed])
            #expect(job.state == .succeeded)

            let events = try sandbox.events(id)
            let notices = events.filter { $0.type == "berth.output_limit" }
            try #require(notices.count == 1, "events: \(events.map(\.payload))")
            let notice = notices[0]
            let stored = events.filter { $0.type != "berth.output_limit" }
            #expect(stored.reduce(0) { $0 + $1.payload.utf8.count } <= 1024)
            #expect(stored.map(\.sequence) == Array(1...Int64(stored.count)))
            #expect(notice.sequence == Int64(stored.count) + 1)
            #expect(notice.payload.contains(#""maxOutputBytes":1024"#))
            #expect(notice.payload.contains(#""firstDroppedSequence":\#(stored.count + 1)"#))
            #expect(events.last?.sequence == notice.sequence)

            let attempt = try #require(try sandbox.attempts(id).first)
            #expect(attempt.droppedLines == Int64(201 - stored.count))
            // Stored bytes count both streams.
            let storedText = stored.map(\.payload) + ["after the flood"]
            #expect(attempt.storedBytes == Int64(storedText.reduce(0) { $0 + $1.utf8.count }))

            // Standard error has a cap of its own, which this line does not reach.
            #expect(try sandbox.logs(id).map(\.line) == ["after the flood"])
        }
    }
}

import BerthTestSupport
import Foundation
import Testing

/// Several `berth` processes on one database at the same time. Serialized
/// so that the processes of one test compete only with each other.
@Suite("Concurrent processes", .serialized)
struct ConcurrencyTests {
    static let processCount = 8

    @Test("batch files of 1000 in parallel")
    func parallelBatches() throws {
        let sandbox = try Sandbox()
        let batchSize = 1000
        let paths = try (0..<Self.processCount).map { process in
            let lines = (0..<batchSize).map { index in
                "{\"image\":\"alpine:3.20\",\"command\":[\"echo\",\"\(process)-\(index)\"]}"
            }
            return try sandbox.write(lines.joined(separator: "\n") + "\n", to: "batch-\(process).jsonl")
        }

        let results = try sandbox.runLanes(paths.map { [["submit", "--file", $0]] }).map { $0[0] }
        let idsByProcess = results.map { $0.lines.compactMap { Int64($0) } }
        let allIDs = idsByProcess.flatMap { $0 }

        for result in results {
            #expect(result.status == 0, "\(result)")
            #expect(!result.standardError.contains("locked"), "\(result.standardError)")
        }
        for ids in idsByProcess {
            #expect(ids.count == batchSize)
            // One transaction per file, so its ids are consecutive.
            #expect(ids == Array(ids[0]..<(ids[0] + Int64(batchSize))))
        }
        #expect(Set(allIDs).count == Self.processCount * batchSize)
        #expect(try sandbox.listJobs().count == Self.processCount * batchSize)
    }

    @Test("single submits in parallel loops")
    func parallelSingleSubmits() throws {
        let sandbox = try Sandbox()
        let submitsPerProcess = 50
        let lanes = (0..<Self.processCount).map { lane in
            (0..<submitsPerProcess).map { index in
                ["submit", "--label", "lane=\(lane)", "--image", "alpine:3.20", "--", "echo", "\(index)"]
            }
        }

        let results = try sandbox.runLanes(lanes).flatMap { $0 }
        let ids = results.compactMap { Int64($0.standardOutput.trimmingCharacters(in: .newlines)) }

        #expect(results.filter { $0.status != 0 }.map(\.description) == [])
        #expect(results.filter { $0.standardError.contains("locked") }.count == 0)
        #expect(Set(ids).count == Self.processCount * submitsPerProcess)
        #expect(try sandbox.listJobs().count == Self.processCount * submitsPerProcess)
        #expect(try sandbox.listJobs(["--label", "lane=3"]).count == submitsPerProcess)
    }

    @Test("race on one idempotency key", arguments: 1...3)
    func idempotencyRace(round: Int) throws {
        let sandbox = try Sandbox()
        let arguments = ["submit", "--idempotency-key", "race-\(round)", "--image", "alpine:3.20", "--", "true"]

        let results = try sandbox.runLanes(Array(repeating: [arguments], count: Self.processCount)).map { $0[0] }
        let printedIDs = Set(results.map(\.standardOutput))

        #expect(results.map(\.status) == Array(repeating: 0, count: Self.processCount))
        #expect(Self.unexpectedErrors(results).isEmpty)
        #expect(printedIDs == ["1\n"])
        #expect(try sandbox.listJobs().count == 1)
    }

    /// Standard error of the processes apart from the notice that one of
    /// them created the database, which a process that lost the race to
    /// create it may print too.
    static func unexpectedErrors(_ results: [CommandResult]) -> [String] {
        results.map(\.standardError).filter { !$0.isEmpty && !$0.hasPrefix("berth: created a new database at ") }
    }

    @Test("fresh database created at once")
    func freshDatabaseRace() throws {
        let arguments = ["submit", "--image", "alpine:3.20", "--", "true"]
        for _ in 0..<3 {
            let sandbox = try Sandbox()
            let results = try sandbox.runLanes(Array(repeating: [arguments], count: Self.processCount)).map { $0[0] }
            let version = try #require(try sandbox.schemaVersion())
            let rows = try sandbox.sqlite("SELECT COUNT(*), COUNT(DISTINCT version), MAX(version) FROM schema_migrations")

            #expect(results.map(\.status) == Array(repeating: 0, count: Self.processCount))
            #expect(Self.unexpectedErrors(results).isEmpty)
            #expect(rows == "\(version)|\(version)|\(version)\n")
            #expect(try sandbox.sqlite("PRAGMA journal_mode") == "wal\n")
            #expect(try sandbox.listJobs().count == Self.processCount)
        }
    }
}

extension Sandbox {
    /// Runs each lane's commands one after another, and all lanes at the same
    /// time, each as a separate `berth` process on the test database.
    ///
    /// One thread polls every running process, so all lanes keep running even
    /// where the test's thread pool has only two threads.
    func runLanes(_ lanes: [[[String]]]) throws -> [[CommandResult]] {
        var results = lanes.map { _ in [CommandResult]() }
        var running: [Int: SpawnedProcess] = [:]
        // Left running only when this function throws.
        defer { running.values.forEach { $0.killAndWait() } }
        for (lane, commands) in lanes.enumerated() where !commands.isEmpty {
            running[lane] = try start(commands[0])
        }

        let deadline = ContinuousClock.now + Self.commandTimeout
        while !running.isEmpty {
            var progressed = false
            for (lane, process) in running {
                guard let result = process.poll() else { continue }
                progressed = true
                results[lane].append(result)
                let next = results[lane].count
                running[lane] = next < lanes[lane].count ? try start(lanes[lane][next]) : nil
            }
            if ContinuousClock.now > deadline {
                throw TestFailure("berth processes still running after \(Self.commandTimeout): \(running.values.map(\.command))")
            }
            if !progressed {
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
        return results
    }

    /// The schema version this build of `berth` supports, from `berth version`.
    func schemaVersion() throws -> Int? {
        let output = try run(["version"]).standardOutput
        guard let range = output.range(of: #"\(schema (\d+)"#, options: .regularExpression) else { return nil }
        return Int(output[range].dropFirst("(schema ".count))
    }
}

import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Synchronization
import Testing

@testable import BerthDaemon

/// The pump against a real database whose write lock another process holds,
/// as `sqlite3` does here with `BEGIN IMMEDIATE`.
@Suite final class OutputPumpTests {
    let directory: String
    let databasePath: String
    let database: DatabaseQueue
    let lease: Lease

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/berth-pump-XXXXXX").utf8CString)
        directory = String(cString: try #require(mkdtemp(&template)))
        databasePath = directory + "/berth.db"
        database = try DatabaseQueue(options: DatabaseOptions(path: databasePath, busyTimeout: .seconds(1)))
        lease = try database.runBlocking { store in
            let now = Clock.nowMilliseconds()
            _ = try store.submit([JobSpec(image: "localhost/berth-test:latest", command: ["true"])], now: now)
            return try #require(try store.claim(queue: nil, worker: "w", leaseDuration: .minutes(5), now: now)).lease
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts `sqlite3`, which takes the write lock, and ends its transaction
    /// after `seconds`. The commit is written to its standard input then, so
    /// the lock does not depend on how the shell runs a command of its own.
    private func holdWriteLock(seconds: Double) async throws -> SpawnedProcess {
        // The shell writes the marker only after its BEGIN succeeded, and with
        // -bail it stops at a BEGIN that failed. Watching a file, instead of
        // probing with writes of our own, cannot keep the shell from the lock.
        let marker = directory + "/locked"
        let shell = try SpawnedProcess(
            "/usr/bin/sqlite3", ["-bail", databasePath], environment: TestHost.environment(home: directory), standardInput: .pipe)
        try shell.writeInput(".timeout 10000\nBEGIN IMMEDIATE;\n.once \(marker)\nSELECT 'locked';\n")

        let deadline = ContinuousClock.now + .seconds(30)
        var locked = false
        while !locked, shell.isRunning, ContinuousClock.now < deadline {
            locked = (try? String(contentsOfFile: marker, encoding: .utf8))?.contains("locked") == true
            if !locked { try await Task.sleep(for: .milliseconds(20)) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            try? shell.writeInput("COMMIT;\n")
            shell.closeInput()
        }
        guard locked else {
            throw TestFailure("sqlite3 did not take the write lock: \(shell.standardErrorSoFar)")
        }
        return shell
    }

    private func makePump(retryWindow: Duration) -> OutputPump {
        OutputPump(lease: lease, database: database, maxStoredBytes: 1 << 20, batchLines: 100,
                   interval: .seconds(1), retryWindow: retryWindow)
    }

    /// Writes the pump's last batch on a dispatch queue, because the write
    /// blocks while it retries and must not hold a thread of the cooperative pool.
    private func writeFinalBatch(_ pump: OutputPump) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                pump.writePending(final: true)
                continuation.resume()
            }
        }
    }

    private func storedPayloads() throws -> [String] {
        try database.runBlocking { store in try store.events(jobID: lease.jobID).map(\.payload) }
    }

    @Test func batchWaitsOutAShortLock() async throws {
        let pump = makePump(retryWindow: .seconds(30))
        let sqlite = try await holdWriteLock(seconds: 2)

        pump.append(stream: .stdout, text: "first", truncated: false)
        pump.append(stream: .stdout, text: "second", truncated: false)
        await writeFinalBatch(pump)

        #expect(pump.writeError == nil)
        #expect(try storedPayloads() == ["first", "second"])
        _ = try await sqlite.wait(timeout: .seconds(30))
    }

    /// Appends `count` lines on a dispatch queue, because an append may wait
    /// for the writer and must not hold a thread of the cooperative pool.
    private func append(_ count: Int, to pump: OutputPump) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                for number in 1...count {
                    pump.append(stream: .stdout, text: "line \(number)", truncated: false)
                }
                continuation.resume()
            }
        }
    }

    @Test func linesGatherIntoOneBatchWhileTheWriterWaits() async throws {
        let batchSizes = Mutex<[Int]>([])
        let pump = OutputPump(lease: lease, database: database, maxStoredBytes: 1 << 20, batchLines: 100,
                              interval: .seconds(10), onBatch: { batch in batchSizes.withLock { $0.append(batch.count) } })
        let sqlite = try await holdWriteLock(seconds: 3)

        await append(300, to: pump)
        // Nothing can be stored while sqlite3 holds the lock, so an empty table
        // shows that the appends returned without waiting for the writer.
        let storedWhenAppendsReturned = try storedPayloads().count
        await writeFinalBatch(pump)

        #expect(storedWhenAppendsReturned == 0, "the reader waited for the writer with only 3 batches pending")
        // The first batch went to the writer when it filled; the rest gathered behind it.
        #expect(batchSizes.withLock { $0.count } == 2)
        #expect(try storedPayloads().count == 300)
        _ = try await sqlite.wait(timeout: .seconds(30))
    }

    @Test func readerWaitsOnceEnoughHasGathered() async throws {
        let pump = makePump(retryWindow: .seconds(30))
        let sqlite = try await holdWriteLock(seconds: 2)

        await append(100 * (OutputRecorder.gatheredBatches + 2), to: pump)
        // The appends can only have returned after the writer stored a batch,
        // which it could do only once sqlite3 released the lock.
        let storedWhenAppendsReturned = try storedPayloads().count
        await writeFinalBatch(pump)

        #expect(storedWhenAppendsReturned > 0, "the reader kept gathering past the limit while the writer waited")
        #expect(try storedPayloads().count == 100 * (OutputRecorder.gatheredBatches + 2))
        _ = try await sqlite.wait(timeout: .seconds(30))
    }

    @Test func lockLongerThanTheWindowIsReported() async throws {
        let pump = makePump(retryWindow: .milliseconds(500))
        let sqlite = try await holdWriteLock(seconds: 4)

        pump.append(stream: .stdout, text: "lost", truncated: false)
        await writeFinalBatch(pump)

        let error = try #require(pump.writeError)
        #expect("\(error)".contains("locked"), "error: \(error)")
        #expect(try storedPayloads().isEmpty)
        _ = try await sqlite.wait(timeout: .seconds(30))
    }
}

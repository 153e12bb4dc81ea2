import BerthCore
import BerthStore
import Testing

final class WorkerTests {
    let directory: TemporaryDirectory
    let store: JobStore

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    func worker(_ id: String, pid: Int32 = 100, startedAt: Int64 = startTime) -> WorkerRecord {
        WorkerRecord(id: id, host: "host-1", pid: pid, version: "0.1.0", startedAt: startedAt, heartbeatAt: startedAt)
    }

    @Test func registerListed() throws {
        try store.registerWorker(worker("a"))

        #expect(try store.workers() == [worker("a")])
    }

    @Test func noWorkers() throws {
        #expect(try store.workers().isEmpty)
    }

    @Test func reregisterReplaces() throws {
        try store.registerWorker(worker("a"))
        try store.recordWorkerStopped(id: "a", now: startTime + 10)
        try store.registerWorker(worker("a", pid: 200, startedAt: startTime + 20))
        let workers = try store.workers()

        #expect(workers.count == 1)
        #expect(workers.first?.pid == 200)
        #expect(workers.first?.startedAt == startTime + 20)
        #expect(workers.first?.stoppedAt == nil)
    }

    @Test func heartbeatRecorded() throws {
        try store.registerWorker(worker("a"))
        try store.recordWorkerHeartbeat(id: "a", now: startTime + 15_000)

        #expect(try store.workers().first?.heartbeatAt == startTime + 15_000)
    }

    @Test func stopRecorded() throws {
        try store.registerWorker(worker("a"))
        try store.recordWorkerStopped(id: "a", now: startTime + 30_000)
        let stopped = try store.workers().first

        #expect(stopped?.stoppedAt == startTime + 30_000)
        #expect(stopped?.heartbeatAt == startTime + 30_000)
    }

    @Test func listedByLatestHeartbeat() throws {
        try store.registerWorker(worker("a"))
        try store.registerWorker(worker("b"))
        try store.registerWorker(worker("c"))
        try store.recordWorkerHeartbeat(id: "b", now: startTime + 2)
        try store.recordWorkerHeartbeat(id: "a", now: startTime + 1)

        #expect(try store.workers().map(\.id) == ["b", "a", "c"])
    }

    @Test func heartbeatUnknownWorkerIgnored() throws {
        try store.recordWorkerHeartbeat(id: "ghost", now: startTime)

        #expect(try store.workers().isEmpty)
    }
}

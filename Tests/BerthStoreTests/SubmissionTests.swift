import BerthCore
import BerthStore
import Testing

final class SubmissionTests {
    let directory: TemporaryDirectory
    let store: JobStore

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    @Test func submitReturnsIDsInOrder() throws {
        let results = try store.submit([makeSpec(command: ["a"]), makeSpec(command: ["b"]), makeSpec(command: ["c"])], now: startTime)

        #expect(results.map(\.created) == [true, true, true])
        #expect(try store.record(results[0].id).spec.command == ["a"])
        #expect(try store.record(results[1].id).spec.command == ["b"])
        #expect(try store.record(results[2].id).spec.command == ["c"])
        #expect(results[0].id < results[1].id)
        #expect(results[1].id < results[2].id)
    }

    @Test func submittedRecord() throws {
        let spec = makeSpec(queue: "gpu", priority: 7, labels: ["team": "data"])
        let id = try store.submitOne(spec, now: startTime)
        let job = try store.record(id)

        #expect(job.id == id)
        #expect(job.queue == "gpu")
        #expect(job.state == .queued)
        #expect(job.priority == 7)
        #expect(job.runAt == startTime)
        #expect(job.spec == spec)
        #expect(job.idempotencyKey == nil)
        #expect(job.attempt == 0)
        #expect(job.attemptsUsed == 0)
        #expect(job.leaseOwner == nil)
        #expect(job.leaseExpiresAt == nil)
        #expect(job.cancelRequested == false)
        #expect(job.lastError == nil)
        #expect(job.createdAt == startTime)
        #expect(job.updatedAt == startTime)
        #expect(job.finishedAt == nil)
    }

    @Test func submitHeld() throws {
        let id = try store.submitOne(makeSpec(hold: true))

        #expect(try store.record(id).state == .held)
    }

    @Test func submitRunAt() throws {
        let id = try store.submitOne(makeSpec(runAt: startTime + 3_600_000))

        #expect(try store.record(id).runAt == startTime + 3_600_000)
    }

    @Test func runAtMillisecondsKept() throws {
        let runAt: Int64 = 1_796_376_600_123
        let id = try store.submitOne(makeSpec(runAt: runAt))
        let job = try store.record(id)

        #expect(job.runAt == runAt)
        #expect(job.spec.runAt == runAt)
    }

    @Test func specWithEverythingStored() throws {
        var spec = makeSpec(idempotencyKey: "full")
        spec.env = ["MODE": "fast"]
        spec.secrets = ["API_KEY"]
        spec.limits = JobSpec.Limits(memory: .mebibytes(512), cpus: 1.5, pids: 100, timeout: .minutes(5))
        spec.retry = JobSpec.RetryOverrides(maxAttempts: 5, retryOn: [.lost])
        spec.adapter = .perstack(JobSpec.PerstackOptions(expert: "e", query: "q"))
        let id = try store.submitOne(spec)

        #expect(try store.record(id).spec == spec)
    }

    @Test func missingJob() throws {
        #expect(try store.job(id: 42) == nil)
        #expect(throws: StoreError.jobNotFound(42)) { try self.store.requireJob(id: 42) }
    }

    @Test func jobNotFoundMessage() {
        #expect(StoreError.jobNotFound(42).description == "job 42 not found; `berth ls` lists existing jobs")
    }

    @Test func idempotencyKeyReturnsExisting() throws {
        let first = try store.submit([makeSpec(idempotencyKey: "nightly")], now: startTime)[0]
        let second = try store.submit([makeSpec(idempotencyKey: "nightly", command: ["other"])], now: startTime + 1000)[0]

        #expect(first.created)
        #expect(!second.created)
        #expect(second.id == first.id)
        #expect(try store.record(first.id).spec.command == ["true"])
        #expect(try store.jobs(matching: JobFilter()).count == 1)
    }

    @Test func idempotencyKeyWithinBatch() throws {
        let results = try store.submit(
            [makeSpec(idempotencyKey: "k"), makeSpec(), makeSpec(idempotencyKey: "k")], now: startTime)

        #expect(results.map(\.created) == [true, true, false])
        #expect(results[2].id == results[0].id)
        #expect(try store.jobs(matching: JobFilter()).count == 2)
    }

    @Test func idempotencyKeyAfterJobFinished() throws {
        let id = try store.submitOne(makeSpec(idempotencyKey: "once"))
        _ = try store.cancel(id: id, now: startTime)
        let again = try store.submit([makeSpec(idempotencyKey: "once")], now: startTime)[0]

        #expect(again.id == id)
        #expect(!again.created)
    }

    @Test func idempotencyKeyConcurrentSubmitters() throws {
        let path = directory.file("berth.db")
        let ids = SharedList<Int64>()
        let errors = runOnThreads(count: 4) { _ in
            let store = try openStore(path)
            let result = try store.submit([makeSpec(idempotencyKey: "race")], now: startTime)[0]
            ids.append(result.id)
        }

        #expect(errors == [])
        #expect(Set(ids.values).count == 1)
        #expect(try store.jobs(matching: JobFilter()).count == 1)
    }

    @Test func listNewestFirst() throws {
        let ids = try store.submit([makeSpec(), makeSpec(), makeSpec()], now: startTime).map(\.id)

        #expect(try store.jobs(matching: JobFilter()).map(\.id) == ids.reversed())
    }

    @Test func listByState() throws {
        let queued = try store.submitOne(makeSpec())
        let held = try store.submitOne(makeSpec(hold: true))
        let cancelled = try store.submitOne(makeSpec())
        _ = try store.cancel(id: cancelled, now: startTime)

        #expect(try store.jobs(matching: JobFilter(states: [.held])).map(\.id) == [held])
        #expect(try store.jobs(matching: JobFilter(states: [.queued, .cancelled])).map(\.id) == [cancelled, queued])
    }

    @Test func listByQueue() throws {
        let gpu = try store.submitOne(makeSpec(queue: "gpu"))
        _ = try store.submitOne(makeSpec(queue: "cpu"))

        #expect(try store.jobs(matching: JobFilter(queue: "gpu")).map(\.id) == [gpu])
    }

    @Test func listByLabels() throws {
        let both = try store.submitOne(makeSpec(labels: ["team": "data", "tier/env": "prod"]))
        _ = try store.submitOne(makeSpec(labels: ["team": "data", "tier/env": "dev"]))
        _ = try store.submitOne(makeSpec(labels: ["team": "web"]))

        #expect(try store.jobs(matching: JobFilter(labels: ["team": "data", "tier/env": "prod"])).map(\.id) == [both])
        #expect(try store.jobs(matching: JobFilter(labels: ["team": "data"])).count == 2)
        #expect(try store.jobs(matching: JobFilter(labels: ["team": "nobody"])).isEmpty)
    }

    @Test func listByDottedLabel() throws {
        let dotted = try store.submitOne(makeSpec(labels: ["app.kubernetes.io/name": "berth"]))
        _ = try store.submitOne(makeSpec(labels: ["app": "berth"]))

        #expect(try store.jobs(matching: JobFilter(labels: ["app.kubernetes.io/name": "berth"])).map(\.id) == [dotted])
    }

    @Test func listLimit() throws {
        let ids = try store.submit(Array(repeating: makeSpec(), count: 5), now: startTime).map(\.id)

        #expect(try store.jobs(matching: JobFilter(limit: 2)).map(\.id) == [ids[4], ids[3]])
    }

    @Test func statsCounts() throws {
        _ = try store.submitOne(makeSpec(queue: "a"))
        _ = try store.submitOne(makeSpec(queue: "a"))
        _ = try store.submitOne(makeSpec(queue: "a", hold: true))
        let cancelled = try store.submitOne(makeSpec(queue: "b"))
        _ = try store.cancel(id: cancelled, now: startTime)

        let stats = try store.stats(now: startTime)

        #expect(stats.queues.map(\.queue) == ["a", "b"])
        #expect(stats.queues[0].counts == [.queued: 2, .held: 1])
        #expect(stats.queues[1].counts == [.cancelled: 1])
    }

    @Test func statsOldestReadyAge() throws {
        _ = try store.submitOne(makeSpec(queue: "a"), now: startTime - 5000)
        _ = try store.submitOne(makeSpec(queue: "a"), now: startTime - 1000)
        _ = try store.submitOne(makeSpec(queue: "b", runAt: startTime + 60_000))

        let stats = try store.stats(now: startTime)

        #expect(stats.queues[0].oldestReadyAge == 5000)
        #expect(stats.queues[1].oldestReadyAge == nil)
    }

    @Test func statsEmpty() throws {
        #expect(try store.stats(now: startTime).queues.isEmpty)
    }
}

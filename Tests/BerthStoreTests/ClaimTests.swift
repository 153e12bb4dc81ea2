import BerthCore
import BerthStore
import Testing

final class ClaimTests {
    let directory: TemporaryDirectory
    let store: JobStore

    init() throws {
        directory = try TemporaryDirectory()
        store = try openStore(directory.file("berth.db"))
    }

    deinit {
        directory.remove()
    }

    /// Claims every ready job one after another and returns their ids in claim order.
    func drain(now: Int64 = startTime) throws -> [Int64] {
        var ids: [Int64] = []
        while let claimed = try store.claimNext(now: now) {
            ids.append(claimed.lease.jobID)
        }
        return ids
    }

    @Test func claimEmpty() throws {
        #expect(try store.claimNext() == nil)
    }

    @Test func claimOrderPriority() throws {
        let low = try store.submitOne(makeSpec(priority: -1))
        let normal = try store.submitOne(makeSpec(priority: 0))
        let high = try store.submitOne(makeSpec(priority: 5))

        #expect(try drain() == [high, normal, low])
    }

    @Test func claimOrderRunAt() throws {
        let later = try store.submitOne(makeSpec(runAt: startTime - 1000))
        let earlier = try store.submitOne(makeSpec(runAt: startTime - 5000))

        #expect(try drain() == [earlier, later])
    }

    @Test func claimOrderID() throws {
        let ids = try store.submit(Array(repeating: makeSpec(runAt: startTime - 1000), count: 4), now: startTime).map(\.id)

        #expect(try drain() == ids)
    }

    @Test func claimOrderPriorityBeforeRunAt() throws {
        let old = try store.submitOne(makeSpec(priority: 0, runAt: startTime - 60_000))
        let urgent = try store.submitOne(makeSpec(priority: 1, runAt: startTime - 1))
        let urgentOlder = try store.submitOne(makeSpec(priority: 1, runAt: startTime - 2))

        #expect(try drain() == [urgentOlder, urgent, old])
    }

    @Test func claimSkipsFutureRunAt() throws {
        let id = try store.submitOne(makeSpec(runAt: startTime + 1000))

        #expect(try store.claimNext(now: startTime) == nil)
        #expect(try store.claimNext(now: startTime + 999) == nil)
        #expect(try store.claimNext(now: startTime + 1000)?.lease.jobID == id)
    }

    @Test func claimFutureDoesNotBlockReady() throws {
        _ = try store.submitOne(makeSpec(priority: 9, runAt: startTime + 1000))
        let ready = try store.submitOne(makeSpec(priority: 0))

        #expect(try drain() == [ready])
    }

    @Test func claimSkipsHeld() throws {
        let id = try store.submitOne(makeSpec(hold: true))

        #expect(try store.claimNext() == nil)
        try store.approve(id: id, now: startTime)
        #expect(try store.claimNext()?.lease.jobID == id)
    }

    @Test func claimSkipsFinished() throws {
        let id = try store.submitOne()
        _ = try store.cancel(id: id, now: startTime)

        #expect(try store.claimNext() == nil)
    }

    @Test func claimByQueue() throws {
        let cpu = try store.submitOne(makeSpec(queue: "cpu", priority: 10))
        let gpu = try store.submitOne(makeSpec(queue: "gpu"))

        #expect(try store.claim(queue: "gpu", worker: "w", leaseDuration: .minutes(1), now: startTime)?.lease.jobID == gpu)
        #expect(try store.claim(queue: "gpu", worker: "w", leaseDuration: .minutes(1), now: startTime) == nil)
        #expect(try store.claim(queue: nil, worker: "w", leaseDuration: .minutes(1), now: startTime)?.lease.jobID == cpu)
    }

    @Test func claimOnce() throws {
        _ = try store.submitOne()

        #expect(try store.claimNext(worker: "a") != nil)
        #expect(try store.claimNext(worker: "b") == nil)
    }

    @Test func claimedJob() throws {
        let spec = makeSpec(queue: "gpu", command: ["echo", "hello"])
        let id = try store.submitOne(spec)
        let claimed = try #require(try store.claim(queue: nil, worker: "worker-a", leaseDuration: .seconds(30), now: startTime + 5))

        #expect(claimed.lease == Lease(jobID: id, attempt: 1, owner: "worker-a"))
        #expect(claimed.queue == "gpu")
        #expect(claimed.spec == spec)
        #expect(claimed.attemptsUsed == 0)
        #expect(claimed.leaseExpiresAt == startTime + 30_005)
        #expect(claimed.resumeFrom == nil)
        #expect(claimed.inputAnswer == nil)
    }

    @Test func claimMovesToRunning() throws {
        let id = try store.submitOne()
        _ = try store.claim(queue: nil, worker: "worker-a", leaseDuration: .seconds(30), now: startTime + 5)
        let job = try store.record(id)

        #expect(job.state == .running)
        #expect(job.attempt == 1)
        #expect(job.leaseOwner == "worker-a")
        #expect(job.leaseExpiresAt == startTime + 30_005)
        #expect(job.updatedAt == startTime + 5)
    }

    @Test func claimInsertsAttempt() throws {
        let id = try store.submitOne()
        _ = try store.claimNext(worker: "worker-a", now: startTime + 5)
        let attempts = try store.attempts(jobID: id)

        #expect(attempts.count == 1)
        #expect(attempts.first?.attempt == 1)
        #expect(attempts.first?.workerID == "worker-a")
        #expect(attempts.first?.claimedAt == startTime + 5)
        #expect(attempts.first?.outcome == nil)
        #expect(attempts.first?.finishedAt == nil)
    }

    @Test func claimIncrementsAttempt() throws {
        let id = try store.submitOne()
        for expected in 1...3 {
            let claimed = try #require(try store.claimNext(now: startTime))
            #expect(claimed.lease.attempt == expected)
            try store.finishAttempt(
                claimed.lease, result: AttemptResult(outcome: .failed, exitCode: 1), decision: .retry(after: .zero), now: startTime)
        }

        #expect(try store.attempts(jobID: id).map(\.attempt) == [1, 2, 3])
        #expect(try store.record(id).attempt == 3)
    }

    @Test func claimAfterOperatorRetryContinuesNumbering() throws {
        let id = try store.submitOne()
        let first = try #require(try store.claimNext())
        try store.finishAttempt(first.lease, result: AttemptResult(outcome: .failed), decision: .bury(reason: "no"), now: startTime)
        try store.retry(id: id, now: startTime + 1)
        let second = try #require(try store.claimNext(now: startTime + 1))

        #expect(second.lease.attempt == 2)
        #expect(second.attemptsUsed == 0)
    }

    @Test func claimConcurrentWorkers() throws {
        let ids = try store.submit(Array(repeating: makeSpec(), count: 40), now: startTime).map(\.id)
        let path = directory.file("berth.db")
        let claimed = SharedList<Int64>()

        let errors = runOnThreads(count: 4) { index in
            let store = try openStore(path)
            while let job = try store.claim(queue: nil, worker: "worker-\(index)", leaseDuration: .minutes(1), now: startTime) {
                claimed.append(job.lease.jobID)
            }
        }

        #expect(errors == [])
        #expect(claimed.values.sorted() == ids)
    }
}

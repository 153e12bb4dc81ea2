import BerthCore
import BerthTestSupport
import Foundation
import Testing

@testable import BerthStore

/// The job store's checkpoint rows, resumes, answers and pauses, on a temporary database.
final class CheckpointStoreTests {
    let directory: String
    let store: JobStore
    let now: Int64 = 1_800_000_000_000

    init() throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/berth-store-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        directory = String(cString: created)
        store = try JobStore(options: DatabaseOptions(path: directory + "/berth.db"))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Submits a job and claims it, returning the lease of attempt 1.
    func runningJob() throws -> Lease {
        _ = try store.submit([JobSpec(image: "alpine:3.20", command: ["true"])], now: now)
        let claimed = try #require(try store.claim(queue: nil, worker: "w", leaseDuration: .minutes(1), now: now))
        return claimed.lease
    }

    func stored(_ name: String, _ sha: String, valid: Bool = true) -> NewCheckpoint {
        .stored(name: name, sha256: sha, size: 4, storedPath: "/store/\(sha)", invalidReason: valid ? nil : "is not valid JSON", metadata: nil)
    }

    @Test func checkpointsCommittedWithOutput() throws {
        let lease = try runningJob()
        let line = StoredLine(stream: .stdout, sequence: 1, at: now, type: "checkpoint", isJSON: true, truncated: false, text: #"{"type":"checkpoint"}"#)

        try store.appendOutput(lease, lines: [line], checkpoints: [stored("a", "01")], storedBytes: 21, droppedLines: 0, now: now)

        #expect(try store.checkpoints(jobID: lease.jobID).map(\.name) == ["a"])
        #expect(try store.events(jobID: lease.jobID).count == 1)
    }

    @Test func lostLeaseCommitsNothing() throws {
        let lease = try runningJob()
        let stale = Lease(jobID: lease.jobID, attempt: lease.attempt, owner: "other")

        #expect(throws: StoreError.leaseLost(stale)) {
            try self.store.recordCheckpoints(stale, [self.stored("a", "01")], now: self.now)
        }
        #expect(try store.checkpoints(jobID: lease.jobID).isEmpty)
    }

    @Test func repeatsRecordedOnce() throws {
        let lease = try runningJob()
        let refusal = NewCheckpoint.refused(name: "pipe", reason: "is a FIFO, not a regular file")

        try store.recordCheckpoints(lease, [stored("a", "01"), refusal], now: now)
        try store.recordCheckpoints(lease, [stored("a", "01"), refusal, stored("a", "02")], now: now)

        let rows = try store.checkpoints(jobID: lease.jobID)
        #expect(rows.map(\.name) == ["a", "pipe", "a"])
        #expect(rows.map(\.sha256) == ["01", nil, "02"])
    }

    @Test func resumeSupersedesLaterCheckpoints() throws {
        let lease = try runningJob()
        try store.recordCheckpoints(lease, [stored("a", "01"), stored("b", "02"), stored("c", "03")], now: now)
        try store.finishAttempt(lease, result: AttemptResult(outcome: .failed), decision: .bury(reason: "test"), now: now)
        let first = try #require(try store.checkpoints(jobID: lease.jobID).first)

        try store.resume(id: lease.jobID, from: first.id, now: now + 1)

        let job = try store.requireJob(id: lease.jobID)
        #expect(job.state == .queued)
        #expect(job.resumeFrom == first.id)
        #expect(job.attemptsUsed == 0)
        #expect(try store.checkpoints(jobID: lease.jobID).map(\.superseded) == [false, true, true])
    }

    @Test func rewrittenCheckpointLosesSupersededMark() throws {
        let lease = try runningJob()
        try store.recordCheckpoints(lease, [stored("a", "01"), stored("b", "02")], now: now)
        try store.finishAttempt(lease, result: AttemptResult(outcome: .failed), decision: .bury(reason: "test"), now: now)
        try store.resume(id: lease.jobID, from: try store.checkpoints(jobID: lease.jobID)[0].id, now: now)
        let second = try #require(try store.claim(queue: nil, worker: "w", leaseDuration: .minutes(1), now: now + 1))

        try store.recordCheckpoints(second.lease, [stored("b", "02")], now: now + 2)

        #expect(try store.checkpoints(jobID: lease.jobID).map(\.superseded) == [false, false])
    }

    @Test func resumeRejectsInvalidCheckpoint() throws {
        let lease = try runningJob()
        try store.recordCheckpoints(lease, [stored("torn", "01", valid: false)], now: now)
        try store.finishAttempt(lease, result: AttemptResult(outcome: .failed), decision: .bury(reason: "test"), now: now)
        let torn = try #require(try store.checkpoints(jobID: lease.jobID).first)

        #expect(throws: CheckpointNotResumable(jobID: lease.jobID, name: "torn", reason: "its content is not valid JSON")) {
            try self.store.resume(id: lease.jobID, from: torn.id, now: self.now)
        }
        #expect(try store.requireJob(id: lease.jobID).state == .dead)
    }

    @Test func resumeRejectsRunningJob() throws {
        let lease = try runningJob()

        #expect(throws: StoreError.self) {
            try self.store.resume(id: lease.jobID, from: nil, now: self.now)
        }
    }

    @Test func pauseThenAnswer() throws {
        let lease = try runningJob()
        try store.recordCheckpoints(lease, [stored("ask.json", "01")], now: now)
        let checkpoint = try #require(try store.checkpoints(jobID: lease.jobID).first)

        try store.pauseForInput(lease, result: AttemptResult(outcome: .waitingForInput, exitCode: 0), pendingInput: #"{"tool":"ask"}"#, now: now)
        let waiting = try store.requireJob(id: lease.jobID)
        try store.answer(id: lease.jobID, answer: #"{"checkpoint":1,"text":"yes"}"#, checkpointID: checkpoint.id, now: now + 5)
        let answered = try store.requireJob(id: lease.jobID)

        #expect(waiting.state == .waiting)
        #expect(waiting.pendingInput == #"{"tool":"ask"}"#)
        #expect(waiting.attemptsUsed == 0)
        #expect(waiting.leaseOwner == nil)
        #expect(try store.attempts(jobID: lease.jobID).first?.outcome == .waitingForInput)
        #expect(answered.state == .queued)
        #expect(answered.pendingInput == nil)
        #expect(answered.inputAnswer == #"{"checkpoint":1,"text":"yes"}"#)
        #expect(answered.resumeFrom == checkpoint.id)
        #expect(answered.runAt == now + 5)
    }

    @Test func answerNeedsWaitingJob() throws {
        let lease = try runningJob()
        try store.recordCheckpoints(lease, [stored("a", "01")], now: now)
        let checkpoint = try #require(try store.checkpoints(jobID: lease.jobID).first)

        #expect(throws: StoreError.self) {
            try self.store.answer(id: lease.jobID, answer: "{}", checkpointID: checkpoint.id, now: self.now)
        }
    }

    @Test func recordResumeClearsChoice() throws {
        let lease = try runningJob()
        try store.recordCheckpoints(lease, [stored("a", "01")], now: now)
        try store.finishAttempt(lease, result: AttemptResult(outcome: .failed), decision: .bury(reason: "test"), now: now)
        let checkpoint = try #require(try store.checkpoints(jobID: lease.jobID).first)
        try store.resume(id: lease.jobID, from: checkpoint.id, now: now)
        let second = try #require(try store.claim(queue: nil, worker: "w", leaseDuration: .minutes(1), now: now + 1))

        try store.recordResume(second.lease, checkpointID: checkpoint.id, now: now + 2)

        #expect(second.resumeFrom == checkpoint.id)
        #expect(try store.requireJob(id: lease.jobID).resumeFrom == nil)
        #expect(try store.attempts(jobID: lease.jobID).last?.resumedFrom == checkpoint.id)
    }

    @Test func prunedIdNeverReused() throws {
        let lease = try runningJob()
        try store.finishAttempt(lease, result: AttemptResult(outcome: .succeeded), decision: .succeed, now: now)
        _ = try store.prune(finishedBefore: now + 1)

        let next = try store.submit([JobSpec(image: "alpine:3.20", command: ["true"])], now: now + 2)

        #expect(next.first?.id == lease.jobID + 1)
    }

    @Test func pruneListsEachStoredFileOnce() throws {
        let lease = try runningJob()
        try store.recordCheckpoints(lease, [stored("a", "01"), stored("b", "01"), stored("c", "02")], now: now)
        try store.finishAttempt(lease, result: AttemptResult(outcome: .succeeded), decision: .succeed, now: now)

        let pruned = try store.prune(finishedBefore: now + 1)

        #expect(pruned.checkpointFiles.sorted() == ["/store/01", "/store/02"])
    }
}

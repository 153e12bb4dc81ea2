import BerthCore
import BerthStore
import Foundation
import Testing

extension CrashHarness {
    /// Checks every job of the workload and the database after the last daemon stopped.
    func checkInvariants(replay: String) async throws {
        for planned in jobs {
            try checkJob(planned, replay: replay)
        }

        let integrity = try await sandbox.sql("PRAGMA integrity_check;")
        print("crash consistency: container kills at \(containerKills)")
        #expect(integrity.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(integrity); \(replay)")
        let foreignKeys = try await sandbox.sql("PRAGMA foreign_key_check;")
        #expect(foreignKeys.standardOutput.isEmpty, "\(foreignKeys); \(replay)")
        #expect(try await sandbox.containers().isEmpty, "containers left behind; \(replay)")
    }

    private func checkJob(_ planned: PlannedJob, replay: String) throws {
        let store = try sandbox.store
        let job = try store.requireJob(id: planned.id)
        let attempts = try store.attempts(jobID: planned.id)
        let events = try store.events(jobID: planned.id, limit: 1_000_000)
        let checkpoints = try store.checkpoints(jobID: planned.id)
        let context = "job \(planned.id) (\(planned.kind.rawValue), \(planned.actions.prefix(4).joined(separator: " ")), attempts \(describe(attempts))); \(replay)"

        // The memory hog runs after its step's checkpoint, so each attempt that
        // the harness killed during a hog still moved the job one step on. An
        // attempt that resumes from the last step has no hog left and succeeds.
        let lastAttemptEvents = events.filter { $0.attempt == attempts.last?.attempt }
        let resumedPastEveryStep = lastAttemptEvents.first.map { $0.type == "resumed" && Self.integer("step", in: $0.payload) == planned.total } ?? false
        let outrunHogs = planned.kind == .outOfMemory && job.state == .succeeded && resumedPastEveryStep
        let expectedState: JobState = outrunHogs ? .succeeded : planned.expectedState
        let expectedLastOutcome: AttemptOutcome? = outrunHogs ? .succeeded : planned.expectedLastOutcome

        #expect(job.state == expectedState, "state \(job.state.rawValue), attempts \(describe(attempts)); \(context)")
        #expect(attempts.map(\.attempt) == Array(1...max(attempts.count, 1)).prefix(attempts.count).map { $0 }, "attempt numbers; \(context)")
        #expect(attempts.allSatisfy { $0.outcome != nil && $0.finishedAt != nil }, "an attempt was never finished: \(describe(attempts)); \(context)")

        // Attempt counting: interruptions by the daemon's own stop are free, every other end counts.
        let counted = attempts.filter { $0.outcome != .interrupted && $0.outcome != .waitingForInput }
        #expect(job.attemptsUsed == counted.count, "attemptsUsed \(job.attemptsUsed), attempts \(describe(attempts)); \(context)")
        #expect(counted.count <= planned.maxAttempts, "more attempts than maxAttempts; \(context)")
        let retryable = Set(planned.retryOn.compactMap(AttemptOutcome.init(rawValue:)))
        for attempt in attempts.dropLast() {
            guard let outcome = attempt.outcome else { continue }
            #expect(outcome == .interrupted || retryable.contains(outcome), "attempt \(attempt.attempt) ended \(outcome.rawValue) and was retried; \(context)")
        }
        if let expected = expectedLastOutcome {
            #expect(attempts.last?.outcome == expected, "last attempt \(describe(attempts)); \(context)")
        } else if let last = attempts.last?.outcome, last != .cancelled {
            #expect(last == .interrupted || retryable.contains(last), "cancelled while waiting to retry after \(last.rawValue); \(context)")
        }
        #expect(attempts.filter { $0.outcome == .succeeded }.count <= 1, "more than one attempt succeeded; \(context)")

        var earlierEvents: [EventRecord] = []
        var containerRemoved = false
        for attempt in attempts {
            let own = events.filter { $0.attempt == attempt.attempt }
            checkOutput(
                planned, attempt: attempt, afterRemoval: containerRemoved, events: own, earlier: earlierEvents,
                checkpoints: checkpoints, context: context)
            earlierEvents += own
            containerRemoved = containerRemoved || killedContainer(during: attempt) == true
        }
        if job.state == .succeeded {
            let done = events.last { $0.type == "done" }
            #expect(done?.payload.contains(#""last":\#(planned.total),"#) == true, "no done event for all \(planned.total) steps; \(context)")
        }
    }

    /// Checks one attempt's stored events against what berth-step-job printed and where it resumed.
    private func checkOutput(
        _ planned: PlannedJob, attempt: AttemptRecord, afterRemoval: Bool, events: [EventRecord], earlier: [EventRecord],
        checkpoints: [CheckpointRecord], context: String
    ) {
        let scope = "attempt \(attempt.attempt) (\(attempt.outcome?.rawValue ?? "unfinished"), exit \(attempt.exitCode.map(String.init) ?? "none")); \(context)"
        #expect(events.map(\.sequence) == Array(1...Int64(max(events.count, 1))).prefix(events.count).map { $0 }, "event sequence numbers have a gap or a duplicate; \(scope)")
        #expect(events.allSatisfy { $0.isJSON && !$0.truncated }, "an event is not whole JSON; \(scope)")

        // Where the attempt started: the job prints "resumed" first when berth gave it a checkpoint.
        let resumedStep = events.first.flatMap { event -> Int? in
            guard event.type == "resumed" else { return nil }
            return Self.integer("step", in: event.payload)
        } ?? 0
        let expected = planned.fullOutput(attempt: attempt.attempt, resumedStep: resumedStep)
        let printed = events.map(\.payload)
        #expect(Array(expected.prefix(printed.count)) == printed, "stored events differ from the job's output:\n\(printed.joined(separator: "\n"))\nexpected a prefix of:\n\(expected.joined(separator: "\n"))\n\(scope)")

        switch attempt.outcome {
        case .succeeded:
            #expect(printed == expected, "a succeeded attempt lacks output; \(scope)")
        case .failed where attempt.exitCode == 1:
            #expect(printed == expected, "an attempt that failed as planned lacks output; \(scope)")
            #expect(printed.last.map { $0.contains(#""type":"checkpoint""#) } == true, "exit 1 without a planned failure; \(scope)")
        case .failed, .lost:
            // Only the harness's container kills, or a daemon kill between claim and create, end an attempt this way.
            let killedWhileRunning = killedContainer(during: attempt) != nil
            #expect(killedWhileRunning || attempt.containerID == nil || attempt.outcome == .lost, "\(attempt.outcome!.rawValue) without a container kill; \(scope)")
        default:
            break
        }

        // The resume: the newest checkpoint stored before the attempt started,
        // no older than the last one the job announced, and no newer than its last step.
        // Lines that the job printed while the daemon was down live only in the
        // container's log, so a removed container takes them along, and the
        // resume may then start past the last step stored.
        let earlierSteps = earlier.filter { $0.type == "step" }.compactMap { Self.integer("n", in: $0.payload) }
        let announced = earlier.filter { $0.type == "checkpoint" }.compactMap { Self.checkpointStep(in: $0.payload) }
        guard !events.isEmpty else { return }
        #expect(resumedStep >= (announced.max() ?? 0), "resumed from step \(resumedStep) though step \(announced.max() ?? 0) was checkpointed; \(scope)")
        #expect(afterRemoval || resumedStep <= (earlierSteps.max() ?? 0), "resumed from step \(resumedStep), past the last step run, \(earlierSteps.max() ?? 0); \(scope)")
        guard resumedStep > 0 else {
            #expect(attempt.resumedFrom == nil, "resumedFrom set but the job started from step 1; \(scope)")
            return
        }
        let chosen = checkpoints.first { $0.id == attempt.resumedFrom }
        #expect(chosen?.name == PlannedJob.checkpointName(step: resumedStep), "resumedFrom \(String(describing: attempt.resumedFrom)) is not \(PlannedJob.checkpointName(step: resumedStep)); \(scope)")
        if let startedAt = attempt.startedAt {
            let newest = checkpoints.filter { $0.valid && !$0.superseded && $0.capturedAt <= startedAt }
                .compactMap { PlannedJob.step(ofCheckpoint: $0.name) }.max()
            #expect(newest == resumedStep, "resumed from step \(resumedStep) but the newest stored checkpoint was step \(String(describing: newest)); \(scope)")
        }
    }

    /// Returns whether the harness killed the containers while `attempt` ran
    /// (true when it removed them too), or nil when it did not.
    func killedContainer(during attempt: AttemptRecord) -> Bool? {
        let finished = attempt.finishedAt ?? Int64.max
        let kills = containerKills.filter { $0.at >= attempt.claimedAt && $0.at <= finished }
        return kills.isEmpty ? nil : kills.contains { $0.removed }
    }

    /// Returns the integer field `key` of a flat JSON object line.
    static func integer(_ key: String, in payload: String) -> Int? {
        let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any]
        return object?[key] as? Int
    }

    /// Returns the step of a {"type":"checkpoint","name":"step-NNNN.json"} line.
    static func checkpointStep(in payload: String) -> Int? {
        let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any]
        return (object?["name"] as? String).flatMap(PlannedJob.step(ofCheckpoint:))
    }

    /// Returns "attempt:outcome/exit code@claimed..finished" for each attempt, for failure messages.
    private func describe(_ attempts: [AttemptRecord]) -> String {
        attempts.map {
            "\($0.attempt):\($0.outcome?.rawValue ?? "-")/\($0.exitCode.map(String.init) ?? "-")@\($0.claimedAt)..\($0.finishedAt.map(String.init) ?? "-") \($0.message ?? "")"
        }.joined(separator: ", ")
    }
}

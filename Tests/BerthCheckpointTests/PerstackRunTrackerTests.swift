import BerthCore
import BerthStore
import Foundation
import Testing

@testable import BerthDaemon

/// The outcome of a Perstack attempt, decided from its events without I/O.
struct PerstackRunTrackerTests {
    static func event(_ type: String, expert: String = "writer", status: String = "proceeding", extra: String = "", delegated: Bool = false) -> [String: Any] {
        let delegatedBy = delegated ? #","delegatedBy":{"expert":{"key":"writer"}}"# : ""
        let text = #"{"type":"\#(type)","expertKey":"\#(expert)","runId":"r","checkpoint":{"id":"c1","expert":{"key":"\#(expert)"},"status":"\#(status)","stepNumber":1\#(delegatedBy)\#(extra)}}"#
        return try! JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    static func conclude(_ events: [[String: Any]], exit: ContainerExit = ContainerExit(exitCode: 0), intent: StopIntent? = nil) -> AttemptConclusion {
        var tracker = PerstackRunTracker(expert: "writer")
        for event in events { _ = tracker.observe(event) }
        let classified = AttemptOutcomeClassifier.classify(intent: intent, exit: exit)
        return tracker.conclude(classified, intent: intent, exit: exit, captured: [])
    }

    @Test func topLevelCompleteRunSucceeds() {
        let conclusion = Self.conclude([Self.event("continueToNextStep"), Self.event("completeRun", status: "completed")])

        #expect(conclusion.result.outcome == .succeeded)
    }

    @Test func delegatedCompleteRunDoesNotEndJob() {
        let conclusion = Self.conclude([
            Self.event("stopRunByDelegate", status: "stoppedByDelegate"),
            Self.event("completeRun", expert: "helper", status: "completed", delegated: true),
        ])

        #expect(conclusion.result.outcome == .failed)
        #expect(conclusion.result.message == "the Perstack runtime exited with code 0 without a terminal event of the top-level run")
    }

    @Test func delegatedErrorDoesNotEndJob() {
        let conclusion = Self.conclude([
            Self.event("stopRunByError", expert: "helper", status: "stoppedByError", delegated: true),
            Self.event("completeRun", status: "completed"),
        ])

        #expect(conclusion.result.outcome == .succeeded)
    }

    @Test func retryableErrorRetries() {
        var error = Self.event("stopRunByError", status: "stoppedByError")
        error["error"] = ["name": "APICallError", "message": "overloaded", "statusCode": 529, "isRetryable": true]

        guard case .finished(let result, let retryable) = Self.conclude([error]) else {
            Issue.record("expected a finished attempt")
            return
        }
        #expect(result.outcome == .failed)
        #expect(result.message == "the run stopped with an error: APICallError: overloaded (status 529)")
        #expect(retryable)
    }

    @Test func errorWithoutRetryableFlagDoesNotRetry() {
        var error = Self.event("stopRunByError", status: "stoppedByError")
        error["error"] = ["name": "APICallError", "message": "bad request"]

        guard case .finished(_, let retryable) = Self.conclude([error]) else {
            Issue.record("expected a finished attempt")
            return
        }
        #expect(!retryable)
    }

    @Test func exceededMaxStepsDoesNotRetry() {
        guard case .finished(let result, let retryable) = Self.conclude([Self.event("stopRunByExceededMaxSteps", status: "stoppedByExceededMaxSteps")]) else {
            Issue.record("expected a finished attempt")
            return
        }
        #expect(result.outcome == .failed)
        #expect(!retryable)
    }

    @Test func interactiveToolWaits() throws {
        let extra = #","pendingToolCalls":[{"id":"call-1","skillName":"@perstack/base","toolName":"askUser","args":{"question":"Go?"}}]"#
        let conclusion = Self.conclude([Self.event("stopRunByInteractiveTool", status: "stoppedByInteractiveTool", extra: extra)])

        guard case .waitingForInput(let result, let pendingText) = conclusion else {
            Issue.record("expected a waiting attempt, got \(conclusion)")
            return
        }
        let pending = try #require(PendingInput.decode(pendingText))
        #expect(result.outcome == .waitingForInput)
        #expect(pending.checkpoint == "c1.json")
        #expect(pending.toolCalls == [PendingInput.ToolCall(id: "call-1", skillName: "@perstack/base", toolName: "askUser", arguments: #"{"question":"Go?"}"#)])
    }

    @Test func exitWithoutTerminalEventFails() {
        let conclusion = Self.conclude([Self.event("continueToNextStep")], exit: ContainerExit(exitCode: 1))

        #expect(conclusion.result.outcome == .failed)
        #expect(conclusion.result.exitCode == 1)
    }

    @Test func daemonIntentComesFirst() {
        let conclusion = Self.conclude([Self.event("completeRun", status: "completed")], exit: ContainerExit(exitCode: 143), intent: .timeout)

        #expect(conclusion.result.outcome == .timedOut)
    }

    @Test func outOfMemoryComesFirst() {
        let conclusion = Self.conclude([Self.event("continueToNextStep")], exit: ContainerExit(exitCode: 137, oomKilled: true))

        #expect(conclusion.result.outcome == .outOfMemory)
    }

    @Test func newRunClearsEarlierStop() {
        let conclusion = Self.conclude([Self.event("completeRun", status: "completed"), Self.event("startRun")])

        #expect(conclusion.result.outcome == .failed)
    }

    @Test func cutTerminalLineReadFromCheckpoint() {
        var tracker = PerstackRunTracker(expert: "writer")
        tracker.observeTruncated(#"{"type":"completeRun","id":"e1","expertKey":"writer","checkpoint":{"messages":[{"#)
        let info = PerstackCheckpointInfo(checkpoint: ["id": "c9", "expert": ["key": "writer"], "status": "completed"])!
        let captured = [NewCheckpoint.stored(name: "c9.json", sha256: "00", size: 1, storedPath: "/s", metadata: info.encoded())]
        let exit = ContainerExit(exitCode: 0)

        let conclusion = tracker.conclude(AttemptOutcomeClassifier.classify(intent: nil, exit: exit), intent: nil, exit: exit, captured: captured)

        #expect(conclusion.result.outcome == .succeeded)
    }

    @Test func checkpointEventsAskForCapture() {
        var tracker = PerstackRunTracker(expert: "writer")

        let ownStep = tracker.observe(Self.event("continueToNextStep"))
        let delegatedStep = tracker.observe(Self.event("continueToNextStep", expert: "helper", delegated: true))
        let generation = tracker.observe(["type": "startGeneration", "expertKey": "writer"])

        #expect(ownStep)
        #expect(delegatedStep)
        #expect(!generation)
    }

    @Test func genericTrackerCapturesOnCheckpointEvent() {
        var tracker = GenericEventTracker()

        let checkpoint = tracker.observe(["type": "checkpoint", "name": "a"])
        let step = tracker.observe(["type": "step"])

        #expect(tracker.mayConcern(#"{"type":"checkpoint","name":"a"}"#))
        #expect(!tracker.mayConcern(#"{"type":"step"}"#))
        #expect(checkpoint)
        #expect(!step)
    }
}

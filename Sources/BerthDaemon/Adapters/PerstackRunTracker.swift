import BerthCore
import BerthStore
import Foundation

/// Follows the Perstack runtime's events and decides the attempt's outcome
/// from the last terminal event of the top-level run, not from the exit code,
/// which is 0 also after an error.
///
/// The top-level run is the job's own expert, on checkpoints without
/// `delegatedBy`. Delegated runs print their own `completeRun` and
/// `stopRunBy…` events; none of them ends the job. `stopRunByDelegate` does not
/// end it either, because the runtime goes on with the delegates.
struct PerstackRunTracker: EventTracker {
    /// The last way the top-level run stopped.
    enum Stop: Equatable, Sendable {
        case completed
        case error(description: String, retryable: Bool)
        case exceededMaxSteps
        case interactive(PendingInput)
    }

    static let terminalTypes: Set<String> = [
        "completeRun", "stopRunByError", "stopRunByExceededMaxSteps", "stopRunByInteractiveTool", "stopRunByDelegate",
    ]

    let expert: String
    private(set) var stop: Stop?
    /// A line too long to store whole that started like a terminal event.
    private(set) var sawTruncatedTerminal = false

    init(expert: String) {
        self.expert = expert
    }

    /// Events that matter carry a checkpoint or start or end a run. The test on
    /// the raw text assumes the runtime's JSON, which never escapes ASCII letters.
    func mayConcern(_ line: String) -> Bool {
        line.containsUTF8("\"checkpoint\"") || line.containsUTF8("Run")
    }

    mutating func observe(_ event: [String: Any]) -> Bool {
        guard let type = event["type"] as? String else { return false }
        let checkpoint = event["checkpoint"] as? [String: Any]
        let announcesCheckpoint = checkpoint != nil

        guard isTopLevel(event, checkpoint: checkpoint) else { return announcesCheckpoint }
        switch type {
        case "startRun":
            stop = nil
        case "completeRun":
            stop = .completed
        case "stopRunByError":
            let error = (event["error"] as? [String: Any]) ?? (checkpoint?["error"] as? [String: Any]) ?? [:]
            let parts = [error["name"] as? String, error["message"] as? String].compactMap { $0 }
            let code = (error["statusCode"] as? Int).map { " (status \($0))" } ?? ""
            stop = .error(
                description: (parts.isEmpty ? "an error without a message" : parts.joined(separator: ": ")) + code,
                retryable: error["isRetryable"] as? Bool ?? false)
        case "stopRunByExceededMaxSteps":
            stop = .exceededMaxSteps
        case "stopRunByInteractiveTool":
            stop = .interactive(Self.pendingInput(checkpoint: checkpoint, expert: expert))
        case "stopRunByDelegate":
            stop = nil
        default:
            break
        }
        return announcesCheckpoint
    }

    mutating func observeTruncated(_ line: String) {
        let head = line.prefix(4096)
        if Self.terminalTypes.contains(where: { head.contains("\"type\":\"\($0)\"") }) {
            sawTruncatedTerminal = true
        }
    }

    func conclude(_ classified: AttemptResult, intent: StopIntent?, exit: ContainerExit, captured: [NewCheckpoint]) -> AttemptConclusion {
        // What the daemon did or saw itself (a timeout, a drain, an OOM kill) comes first.
        if intent != nil || exit.vanished || exit.oomKilled {
            return .finished(classified, retryable: true)
        }
        let code = exit.exitCode
        switch stop ?? (sawTruncatedTerminal ? stopFromCheckpoints(captured) : nil) {
        case .completed?:
            return .finished(AttemptResult(outcome: .succeeded, exitCode: code), retryable: true)
        case .error(let description, let retryable)?:
            let message = "the run stopped with an error: \(description)" + (retryable ? "" : "; the error is not retryable")
            return .finished(AttemptResult(outcome: .failed, exitCode: code, message: message), retryable: retryable)
        case .exceededMaxSteps?:
            return .finished(
                AttemptResult(outcome: .failed, exitCode: code, message: "the run reached its maximum number of steps"),
                retryable: false)
        case .interactive(let pending)?:
            let tools = pending.toolCalls.compactMap(\.toolName).joined(separator: ", ")
            let result = AttemptResult(
                outcome: .waitingForInput, exitCode: code,
                message: "waiting for an answer to " + (tools.isEmpty ? "a tool call" : "tool call \(tools)"))
            return .waitingForInput(result, pendingInput: pending.encoded())
        case nil:
            let exitText = code.map { "with code \($0)" } ?? "without an exit code"
            let message = "the Perstack runtime exited \(exitText) without a terminal event of the top-level run"
            return .finished(AttemptResult(outcome: .failed, exitCode: code, message: message), retryable: true)
        }
    }

    /// Returns whether an event belongs to the job's own expert, not to a delegated run.
    private func isTopLevel(_ event: [String: Any], checkpoint: [String: Any]?) -> Bool {
        if let delegatedBy = checkpoint?["delegatedBy"], !(delegatedBy is NSNull) { return false }
        let key = (event["expertKey"] as? String) ?? ((checkpoint?["expert"] as? [String: Any])?["key"] as? String)
        return key == expert
    }

    /// Reads the stop of a terminal event whose line was cut from the newest
    /// top-level checkpoint this attempt captured, which the runtime wrote
    /// before it printed the event.
    private func stopFromCheckpoints(_ captured: [NewCheckpoint]) -> Stop? {
        let infos = captured.filter(\.valid).compactMap { PerstackCheckpointInfo.decode($0.metadata) }
        guard let last = infos.last(where: { $0.expert == expert && $0.delegatedBy == nil }) else { return nil }
        switch last.status {
        case "completed":
            return .completed
        case "stoppedByError":
            return .error(description: "the error event was too long to store; see the checkpoint", retryable: last.errorRetryable ?? false)
        case "stoppedByExceededMaxSteps":
            return .exceededMaxSteps
        case PerstackAdapter.interactiveStatus:
            return .interactive(PendingInput(
                adapter: "perstack", checkpoint: last.checkpointId + ".json", expert: last.expert,
                toolCalls: last.pendingToolCalls ?? []))
        default:
            return nil
        }
    }

    static func pendingInput(checkpoint: [String: Any]?, expert: String) -> PendingInput {
        let id = checkpoint?["id"] as? String ?? ""
        let calls = (checkpoint?["pendingToolCalls"] as? [[String: Any]] ?? []).map(PendingInput.ToolCall.init(perstack:))
        return PendingInput(adapter: "perstack", checkpoint: id + ".json", expert: expert, toolCalls: calls)
    }
}

import BerthCore
import BerthDaemon
import BerthStore
import Foundation

/// `berth answer ID`: answer a waiting job's pending tool call and queue it again.
struct AnswerCommand: Command {
    let name = "answer"
    let summary = "Answer a waiting job's pending tool call and queue it to resume."
    let usage = "(--text TEXT | --json JSON) ID"
    let details = """
        A job is waiting when its run stopped for input, such as a Perstack
        interactive tool call; `berth show` prints what it waits for. The job
        resumes from the checkpoint at which it stopped, with the answer passed
        to the Perstack runtime with -i.
        """

    /// Largest answer accepted. It becomes one argument, which Linux limits to
    /// 32 pages (MAX_ARG_STRLEN), 128 KiB with 4 KiB pages.
    static let maximumBytes = 64 * 1024

    let options: [OptionDefinition] = [
        .value("text", "TEXT", "The answer as plain text."),
        .value("json", "JSON", "The answer as a JSON object, such as {\"toolCallId\":…,\"text\":…}."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let ids = try jobIDs(arguments.positionals, command: name)
        guard ids.count == 1 else { throw UsageError("give exactly one job id", command: name) }
        let text = arguments.value("text")
        let json = arguments.value("json")
        guard (text == nil) != (json == nil) else {
            throw UsageError("give the answer with exactly one of --text and --json", command: name)
        }
        let answerValue = text ?? json ?? ""
        guard answerValue.utf8.count <= Self.maximumBytes, !answerValue.contains("\0") else {
            throw UsageError("the answer must be at most \(Self.maximumBytes) bytes without NUL bytes", command: name)
        }
        if let json {
            let object = try? JSONSerialization.jsonObject(with: Data(json.utf8))
            guard object is [String: Any] else {
                throw UsageError("--json \(Format.truncate(Format.printable(json), to: 60)): expected a JSON object", command: name)
            }
        }

        let store = try context.store()
        let job = try store.requireJob(id: ids[0])
        guard job.state == .waiting else {
            throw CommandFailure("job \(job.id) is \(job.state), not waiting; only a waiting job takes an answer")
        }
        guard let pending = PendingInput.decode(job.pendingInput) else {
            throw CommandFailure("job \(job.id) is waiting, but what it waits for cannot be read; cancel it or resume it with berth resume")
        }
        let checkpoints = try store.checkpoints(jobID: job.id)
        let candidates = ResumePoints.matching(pending.checkpoint, spec: job.spec, checkpoints: checkpoints)
        guard let checkpoint = candidates.first(where: { $0.valid }) else {
            let refusal = checkpoints.last { $0.name == pending.checkpoint && $0.refusedReason != nil }?.refusedReason
            throw CommandFailure(
                "job \(job.id) stopped at checkpoint \(pending.checkpoint), which was not captured"
                    + (refusal.map { " (refused: \($0))" } ?? "") + "; the job cannot resume there")
        }

        let answer = InputAnswer(checkpoint: checkpoint.id, text: text, json: json)
        try store.answer(id: job.id, answer: answer.encoded(), checkpointID: checkpoint.id, now: context.now())
        context.wakeLocalDaemons()
        context.print("job \(job.id) answered; queued to resume from checkpoint \(checkpoint.id) (\(Format.printable(checkpoint.name)))")
    }
}

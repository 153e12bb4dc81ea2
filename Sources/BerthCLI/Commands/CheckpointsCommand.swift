import BerthCore
import BerthDaemon
import BerthStore
import Foundation

/// `berth checkpoints ID`: the checkpoints captured from a job's workspace.
struct CheckpointsCommand: Command {
    let name = "checkpoints"
    let summary = "List the checkpoints captured from a job's workspace, refused files included."
    let usage = "[--json] ID"
    let details = """
        STATUS is valid (a resume may start from it), invalid (stored, but its
        content did not pass the adapter's check, such as JSON cut short; DETAIL
        names the check, because the exact problem is not stored), superseded
        (valid, but an operator resumed from an earlier one), or refused (not
        copied; DETAIL says why). The checkpoint marked with * is
        the one the next attempt resumes from, unless an operator chooses
        another with `berth resume --from`.
        """

    let options: [OptionDefinition] = [
        .flag("json", "Print one JSON object per checkpoint."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let ids = try jobIDs(arguments.positionals, command: name)
        guard ids.count == 1 else { throw UsageError("give exactly one job id", command: name) }
        let store = try context.store()
        let job = try store.requireJob(id: ids[0])
        let checkpoints = try store.checkpoints(jobID: job.id)
        let answered = InputAnswer.decode(job.inputAnswer)?.checkpoint
        let next = job.resumeFrom ?? ResumePoints.newest(
            spec: job.spec, jobID: job.id, checkpoints: checkpoints, answeredCheckpoint: answered)?.id

        if arguments.has("json") {
            for checkpoint in checkpoints {
                context.print(Self.jsonLine(checkpoint, next: checkpoint.id == next))
            }
            return
        }
        guard !checkpoints.isEmpty else {
            context.print("job \(job.id) has no checkpoints")
            return
        }
        var table = Table("ID", "ATTEMPT", "CAPTURED", "NAME", "SIZE", "SHA256", "STATUS", "DETAIL")
        for checkpoint in checkpoints {
            table.append([
                "\(checkpoint.id)" + (checkpoint.id == next ? "*" : ""), "\(checkpoint.attempt)",
                Format.time(checkpoint.capturedAt), Format.truncate(Format.printable(checkpoint.name), to: 60),
                checkpoint.size.map { "\($0)" } ?? "-", checkpoint.sha256.map { String($0.prefix(12)) } ?? "-",
                Self.status(checkpoint),
                Format.truncate(Format.printable(Self.detail(checkpoint, of: job)), to: 100),
            ])
        }
        context.print(table.render())
    }

    /// Returns the DETAIL column: why capture refused the file, what is wrong
    /// with an invalid file, or the adapter's summary of a valid one.
    static func detail(_ checkpoint: CheckpointRecord, of job: JobRecord) -> String {
        if let reason = checkpoint.refusedReason { return reason }
        if !checkpoint.valid {
            if let reason = checkpoint.invalidReason { return "content " + reason }
            // Rows captured before berth kept the reason show the rule that failed.
            return "content check failed: " + ResumePoints.contentRequirement(spec: job.spec, jobID: job.id)
        }
        return ResumePoints.summary(of: checkpoint) ?? ""
    }

    static func status(_ checkpoint: CheckpointRecord) -> String {
        if checkpoint.refusedReason != nil { return "refused" }
        if !checkpoint.valid { return "invalid" }
        return checkpoint.superseded ? "superseded" : "valid"
    }

    /// Renders one checkpoint as a JSON object with sorted keys, with the
    /// adapter's `metadata` object as stored.
    static func jsonLine(_ checkpoint: CheckpointRecord, next: Bool) -> String {
        var object: [String: Any] = [
            "id": checkpoint.id, "jobID": checkpoint.jobID, "attempt": checkpoint.attempt, "name": checkpoint.name,
            "status": status(checkpoint), "valid": checkpoint.valid, "superseded": checkpoint.superseded,
            "capturedAt": Format.isoTime(checkpoint.capturedAt) ?? NSNull(), "next": next,
            "size": checkpoint.size ?? NSNull() as Any, "sha256": checkpoint.sha256 ?? NSNull() as Any,
            "storedPath": checkpoint.storedPath ?? NSNull() as Any, "refusedReason": checkpoint.refusedReason ?? NSNull() as Any,
            "invalidReason": checkpoint.invalidReason ?? NSNull() as Any,
        ]
        object["metadata"] = checkpoint.metadata.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? NSNull()
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

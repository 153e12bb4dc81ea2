import BerthCore
import BerthDaemon
import BerthStore

/// `berth resume ID`: queue a failed or finished job again from a checkpoint.
struct ResumeCommand: Command {
    let name = "resume"
    let summary = "Queue a failed or finished job again to continue from a checkpoint."
    let usage = "[--from NAME] ID"
    let details = """
        Without --from, the job continues from its newest valid checkpoint, as
        `berth checkpoints` marks it. With --from, it continues from the newest
        valid checkpoint of that name (for Perstack jobs also a checkpoint id),
        and checkpoints captured after it are marked superseded, so that no later
        attempt goes back to them. The job gets a fresh attempt budget, like
        `berth retry`.
        """

    let options: [OptionDefinition] = [
        .value("from", "NAME", "The checkpoint to continue from, as `berth checkpoints` lists it."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let ids = try jobIDs(arguments.positionals, command: name)
        guard ids.count == 1 else { throw UsageError("give exactly one job id", command: name) }
        let store = try context.store()
        let job = try store.requireJob(id: ids[0])
        let checkpoints = try store.checkpoints(jobID: job.id)

        let chosen: CheckpointRecord?
        if let wanted = arguments.value("from") {
            guard !wanted.isEmpty else { throw UsageError("--from needs a checkpoint name", command: name) }
            let candidates = ResumePoints.matching(wanted, spec: job.spec, checkpoints: checkpoints)
            guard !candidates.isEmpty else {
                if let refused = ResumePoints.refusal(wanted, spec: job.spec, checkpoints: checkpoints) {
                    let reason = ResumePoints.problem(spec: job.spec, jobID: job.id, checkpoint: refused) ?? "capture refused it"
                    throw CheckpointNotResumable(jobID: job.id, name: wanted, reason: reason)
                }
                throw StoreError.checkpointNotFound(jobID: job.id, name: wanted)
            }
            let usable = candidates.first { ResumePoints.problem(spec: job.spec, jobID: job.id, checkpoint: $0) == nil }
            guard let usable else {
                let reason = ResumePoints.problem(spec: job.spec, jobID: job.id, checkpoint: candidates[0]) ?? "it is not valid"
                throw CheckpointNotResumable(jobID: job.id, name: wanted, reason: reason)
            }
            chosen = usable
        } else {
            chosen = ResumePoints.newest(spec: job.spec, jobID: job.id, checkpoints: checkpoints)
        }

        try store.resume(id: job.id, from: chosen?.id, now: context.now())
        context.wakeLocalDaemons()
        if let chosen {
            context.print("job \(job.id) queued to resume from checkpoint \(chosen.id) (\(Format.printable(chosen.name)))")
        } else {
            context.print("job \(job.id) queued; it has no valid checkpoint, so it starts over")
        }
    }
}

import BerthCore
import BerthStore
import Foundation

/// The daemon's resume hook: captures checkpoints through each job's adapter
/// into the checkpoint store, and starts every attempt after the first from
/// the newest valid checkpoint, restored into the workspace where needed.
struct CheckpointResumeHook: ResumeHook {
    let database: DatabaseQueue
    let configuration: DaemonConfiguration
    let logger: Logger

    /// The empty file mounted read-only where Perstack's `--env-path` points.
    var environmentFile: String { configuration.directories.runtime + "/perstack.env" }

    private var limits: CaptureLimits {
        CaptureLimits(
            maxFileBytes: configuration.checkpoints.maxFileBytes.bytes, maxJobBytes: configuration.checkpoints.maxJobBytes.bytes)
    }

    /// Returns the job's directory in the checkpoint store.
    func storeDirectory(jobID: Int64) -> String {
        configuration.directories.checkpoints + "/\(jobID)"
    }

    func makeObserver(for job: ClaimedJob, workspace: String, preparation: AttemptPreparation?) -> any AttemptObserver {
        CheckpointSession(
            job: job, adapter: JobAdapters.adapter(for: job.spec, jobID: job.lease.jobID), workspace: workspace,
            storeDirectory: storeDirectory(jobID: job.lease.jobID), limits: limits, database: database,
            logger: jobLogger(job), baseline: preparation?.checkpointBaseline)
    }

    /// Captures what the previous attempt left uncaptured, chooses the
    /// checkpoint to resume from, restores stored checkpoints that the
    /// workspace lacks, and records the choice on the attempt.
    func prepareAttempt(_ job: ClaimedJob, workspace: String) async throws -> AttemptPreparation {
        let lease = job.lease
        let adapter = JobAdapters.adapter(for: job.spec, jobID: lease.jobID)
        let logger = jobLogger(job)
        let owner = CheckpointRestorer.numericOwner(configuration.settings(forQueue: job.queue).user)
        for subdirectory in adapter.workspaceSubdirectories {
            let restorer = CheckpointRestorer(workspace: workspace, directory: [subdirectory], owner: owner)
            try await Self.blocking { try restorer.ensureDirectory() }
        }

        // Files written after the last capture of an attempt whose daemon died,
        // or whose container vanished, are still in a workspace on this host.
        // Before a first attempt there is no earlier attempt whose files to take.
        var checkpoints = try await database.run { store in try store.checkpoints(jobID: lease.jobID) }
        var leftover: [NewCheckpoint] = []
        if lease.attempt > 1 {
            leftover = try await captureLeftovers(job, adapter: adapter, workspace: workspace, existing: checkpoints, logger: logger)
        }
        if !leftover.isEmpty {
            checkpoints = try await database.run { store in try store.checkpoints(jobID: lease.jobID) }
        }

        let answer = InputAnswer.decode(job.inputAnswer)
        let chosen = choose(job, adapter: adapter, checkpoints: checkpoints, answer: answer, logger: logger)
        try await restore(job, adapter: adapter, workspace: workspace, checkpoints: checkpoints, chosen: chosen, logger: logger)
        try await database.run { store in try store.recordResume(lease, checkpointID: chosen?.id, now: Clock.nowMilliseconds()) }
        if let chosen {
            logger.info("resuming from a checkpoint", [(.reason, "checkpoint \(chosen.id) \(chosen.name)")])
        }

        if case .perstack = job.spec.adapter {
            try await Self.blocking { try Self.ensureEmptyFile(environmentFile) }
        }
        var preparation = adapter.preparation(for: job, resumingFrom: chosen, answer: answer, environmentFile: environmentFile)
        preparation.checkpointBaseline = await baseline(job, adapter: adapter, workspace: workspace, logger: logger)
        return preparation
    }

    /// Lists the files of the checkpoint directory as the attempt finds them, after the restore.
    private func baseline(_ job: ClaimedJob, adapter: any JobAdapter, workspace: String, logger: Logger) async -> [String: FileIdentity] {
        let capturer = CheckpointCapturer(
            workspace: workspace, directory: adapter.checkpointDirectory, storeDirectory: storeDirectory(jobID: job.lease.jobID),
            limits: limits, policy: adapter, logger: logger, existing: [])
        return await Self.blocking {
            var listing = capturer
            return listing.currentFiles()
        }
    }

    /// Returns the operator's choice when it is usable, else the adapter's
    /// newest resumable checkpoint, and nil for a first attempt.
    private func choose(
        _ job: ClaimedJob, adapter: any JobAdapter, checkpoints: [CheckpointRecord], answer: InputAnswer?, logger: Logger
    ) -> CheckpointRecord? {
        if let wanted = job.resumeFrom {
            if let checkpoint = checkpoints.first(where: { $0.id == wanted }), checkpoint.isResumable,
               adapter.resumeProblem(checkpoint, answeredCheckpoint: answer?.checkpoint) == nil {
                return checkpoint
            }
            logger.warning("the chosen checkpoint cannot be resumed from; using the newest valid one",
                           [(.reason, "checkpoint \(wanted)")])
        }
        guard job.lease.attempt > 1 || job.resumeFrom != nil else { return nil }
        return adapter.chooseResumePoint(checkpoints, answeredCheckpoint: answer?.checkpoint)
    }

    private func captureLeftovers(
        _ job: ClaimedJob, adapter: any JobAdapter, workspace: String, existing: [CheckpointRecord], logger: Logger
    ) async throws -> [NewCheckpoint] {
        let capturer = CheckpointCapturer(
            workspace: workspace, directory: adapter.checkpointDirectory, storeDirectory: storeDirectory(jobID: job.lease.jobID),
            limits: limits, policy: adapter, logger: logger, existing: existing)
        let result = await Self.blocking {
            var scanning = capturer
            return scanning.scan()
        }
        guard !result.isEmpty else { return [] }
        do {
            try await database.run { store in try store.recordCheckpoints(job.lease, result.checkpoints, now: Clock.nowMilliseconds()) }
        } catch {
            for path in result.createdFiles { unlink(path) }
            throw error
        }
        return result.checkpoints
    }

    /// Writes back the newest stored version of every resumable checkpoint
    /// whose file is missing or was replaced, and the chosen checkpoint
    /// whenever its file differs from the stored copy.
    private func restore(
        _ job: ClaimedJob, adapter: any JobAdapter, workspace: String, checkpoints: [CheckpointRecord],
        chosen: CheckpointRecord?, logger: Logger
    ) async throws {
        guard !checkpoints.isEmpty else { return }
        var newestByName: [String: CheckpointRecord] = [:]
        for checkpoint in checkpoints where checkpoint.isResumable {
            newestByName[checkpoint.name] = checkpoint
        }
        if let chosen { newestByName[chosen.name] = chosen }
        let restorable = newestByName.values.sorted { $0.id < $1.id }
        guard !restorable.isEmpty else { return }

        let restorer = CheckpointRestorer(
            workspace: workspace, directory: adapter.checkpointDirectory,
            owner: CheckpointRestorer.numericOwner(configuration.settings(forQueue: job.queue).user))
        let written = try await Self.blocking {
            try restorer.restore(restorable, exact: chosen.map { [$0.id] } ?? [])
        }
        if !written.isEmpty {
            logger.info("restored checkpoints into the workspace", [(.reason, "\(written.count) files")])
        }
    }

    private func jobLogger(_ job: ClaimedJob) -> Logger {
        logger.with([(.jobID, "\(job.lease.jobID)"), (.attempt, "\(job.lease.attempt)")])
    }

    /// Creates `path` as an empty regular file (mode 0644), replacing anything else there.
    static func ensureEmptyFile(_ path: String) throws {
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size == 0 {
            return
        }
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = path + ".\(FileDescriptors.randomSuffix()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(), attributes: [.posixPermissions: 0o644]),
              rename(temporary, path) == 0
        else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// Runs blocking file-system work off the cooperative thread pool.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    static func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: body())
            }
        }
    }
}

import BerthCore
import BerthStore
import Foundation
import Synchronization

/// One attempt's checkpoint capture and event tracking, driven by its output pump.
///
/// The pump hands every standard output line to `observe`; a line that
/// announces a checkpoint makes the pump write at once, with the rows that
/// `captureForBatch` returns, in the same transaction as the line.
final class CheckpointSession: AttemptObserver {
    private struct State {
        var tracker: any EventTracker
        /// Made on the first capture, from the job's stored checkpoints.
        var capturer: CheckpointCapturer?
        /// Checkpoints committed during this attempt, oldest first.
        var committed: [NewCheckpoint] = []
    }

    private let job: ClaimedJob
    private let adapter: any JobAdapter
    private let workspace: String
    private let storeDirectory: String
    private let limits: CaptureLimits
    private let database: DatabaseQueue
    private let logger: Logger
    private let baseline: [String: FileIdentity]?
    private let state: Mutex<State>

    init(
        job: ClaimedJob, adapter: any JobAdapter, workspace: String, storeDirectory: String, limits: CaptureLimits,
        database: DatabaseQueue, logger: Logger, baseline: [String: FileIdentity]?
    ) {
        self.job = job
        self.adapter = adapter
        self.workspace = workspace
        self.storeDirectory = storeDirectory
        self.limits = limits
        self.database = database
        self.logger = logger
        self.baseline = baseline
        state = Mutex(State(tracker: adapter.makeTracker()))
    }

    func observe(line: String, truncated: Bool) -> Bool {
        if truncated {
            state.withLock { $0.tracker.observeTruncated(line) }
            return false
        }
        guard state.withLock({ $0.tracker.mayConcern(line) }),
              line.utf8.first(where: { $0 != 0x20 && $0 != 0x09 }) == UInt8(ascii: "{"),
              let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        else { return false }
        return state.withLock { $0.tracker.observe(object) }
    }

    func captureForBatch(final: Bool) -> CapturedCheckpoints {
        state.withLock { state in
            if state.capturer == nil {
                guard let existing = loadExisting() else { return .none }
                state.capturer = CheckpointCapturer(
                    workspace: workspace, directory: adapter.checkpointDirectory, storeDirectory: storeDirectory,
                    limits: limits, policy: adapter, logger: logger, existing: existing, baseline: baseline)
            }
            let result = state.capturer!.scan()
            return CapturedCheckpoints(checkpoints: result.checkpoints, createdFiles: result.createdFiles)
        }
    }

    func committed(_ captured: CapturedCheckpoints) {
        guard !captured.checkpoints.isEmpty else { return }
        for checkpoint in captured.checkpoints where checkpoint.refusedReason == nil {
            logger.debug("captured a checkpoint", [(.reason, checkpoint.name)])
        }
        state.withLock { $0.committed += captured.checkpoints }
    }

    func discarded(_ captured: CapturedCheckpoints) {
        for path in captured.createdFiles {
            unlink(path)
        }
        state.withLock { state in
            state.capturer?.forget(CaptureResult(checkpoints: captured.checkpoints, createdFiles: captured.createdFiles))
        }
    }

    func conclude(_ classified: AttemptResult, intent: StopIntent?, exit: ContainerExit) -> AttemptConclusion {
        state.withLock { state in
            state.tracker.conclude(classified, intent: intent, exit: exit, captured: state.committed)
        }
    }

    private func loadExisting() -> [CheckpointRecord]? {
        do {
            return try database.runBlocking { [jobID = job.lease.jobID] store in try store.checkpoints(jobID: jobID) }
        } catch {
            logger.error("cannot read the job's checkpoints; capture waits for the next batch", [(.error, "\(error)")])
            return nil
        }
    }
}

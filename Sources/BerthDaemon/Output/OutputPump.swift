import BerthCore
import BerthStore
import Dispatch
import Foundation
import Synchronization

/// Carries one attempt's output lines into the database.
///
/// The engine's reader threads call `append`. A full batch is handed to a
/// writer queue, so the reader parses the next batch while SQLite stores this
/// one. While the writer is busy, lines keep gathering past a full batch, and
/// the writer takes all of them in its next transaction. So when the database
/// is the slower side, fewer and larger transactions store the same lines
/// with less work per line. Once `OutputRecorder.mustWait` says that enough has
/// gathered, the reader waits for the writer, which slows the reading of that
/// stream rather than filling memory. A timer writes whatever waits longer
/// than the batch interval, and `writePending(final: true)` writes the last
/// batch.
///
/// An `AttemptObserver` sees every standard output line first. When a line
/// announces a checkpoint, the pump writes at once, and the checkpoints the
/// observer captures go into the same transaction as the line.
final class OutputPump: Sendable {
    private struct Pending {
        var recorder: OutputRecorder
        /// Set with the line that asked for a capture, so both go into one batch.
        var captureRequested = false
        /// The first two lines of standard error, enough to tell whether the output was one line.
        var firstErrorLines: [String] = []
    }

    private let pending: Mutex<Pending>
    private let database: DatabaseQueue
    private let lease: Lease
    private let interval: TimeSpan
    /// Serializes writes so that batches reach the database in the order they were taken.
    private let writeLock = Mutex(())
    private let failure = Mutex<(any Error)?>(nil)
    private let onBatch: @Sendable ([StoredLine]) -> Void
    private let observer: (any AttemptObserver)?
    /// The queue that writes full batches, and a semaphore that is 0 while it writes one.
    private let writer = DispatchQueue(label: "berth.output-writer")
    private let backgroundWrite = DispatchSemaphore(value: 1)
    /// How long a batch is retried before the attempt gives up on its output.
    private let retryWindow: Duration

    init(lease: Lease, database: DatabaseQueue, maxStoredBytes: Int64, batchLines: Int, interval: TimeSpan,
         retryWindow: Duration = .seconds(30), observer: (any AttemptObserver)? = nil,
         onBatch: @escaping @Sendable ([StoredLine]) -> Void = { _ in }) {
        self.lease = lease
        self.retryWindow = retryWindow
        self.database = database
        self.interval = interval
        self.observer = observer
        self.onBatch = onBatch
        pending = Mutex(Pending(recorder: OutputRecorder(maxStoredBytes: maxStoredBytes, batchLines: batchLines)))
    }

    /// Lines of each stream seen so far, stored or not.
    var linesSeen: [StoredLine.Stream: Int64] {
        pending.withLock { [.stdout: $0.recorder.linesSeen(.stdout), .stderr: $0.recorder.linesSeen(.stderr)] }
    }

    /// The first two lines of standard error seen so far.
    var firstErrorLines: [String] {
        pending.withLock { $0.firstErrorLines }
    }

    /// Marks the first lines of each stream as stored by an earlier reading of the same output.
    func skip(alreadyHandled counts: [StoredLine.Stream: Int64]) {
        pending.withLock { $0.recorder.alreadyHandled = counts }
    }

    /// The error that ended the storing of output: a lost lease, or a failure
    /// that outlasted the retries. Later writes are skipped.
    var writeError: (any Error)? { failure.withLock { $0 } }

    func append(stream: StoredLine.Stream, text: String, truncated: Bool) {
        // Parsed before the lock, so a long line does not hold up the other stream.
        let capture = stream == .stdout && (observer?.observe(line: text, truncated: truncated) ?? false)
        let now = Clock.nowMilliseconds()
        let (full, mustWait) = pending.withLock { pending in
            pending.recorder.append(stream: stream, text: text, truncated: truncated, at: now)
            if capture { pending.captureRequested = true }
            if stream == .stderr, pending.firstErrorLines.count < 2 { pending.firstErrorLines.append(text) }
            return (pending.recorder.batchIsFull || capture, pending.recorder.mustWait || capture)
        }
        guard full else { return }
        if mustWait {
            backgroundWrite.wait()
        } else if backgroundWrite.wait(timeout: .now()) == .timedOut {
            // The writer is busy: keep gathering, and try again with the next line.
            return
        }
        writer.async {
            self.write(final: false)
            self.backgroundWrite.signal()
        }
    }

    /// Writes whatever is pending, after a batch that the writer queue is
    /// writing. It runs at each interval and once with `final` after the
    /// container exited. Then the observer captures every checkpoint file not
    /// captured yet.
    func writePending(final: Bool = false) {
        backgroundWrite.wait()
        backgroundWrite.signal()
        write(final: final)
    }

    private func write(final: Bool) {
        writeLock.withLock { _ in
            let (batch, storedBytes, droppedLines, captureRequested) = pending.withLock { pending in
                defer { pending.captureRequested = false }
                return (pending.recorder.takeBatch(), pending.recorder.storedBytes, pending.recorder.droppedLines,
                        pending.captureRequested)
            }
            guard failure.withLock({ $0 == nil }) else { return }

            var captured = CapturedCheckpoints.none
            if let observer, captureRequested || final {
                captured = observer.captureForBatch(final: final)
            }
            guard !batch.isEmpty || !captured.checkpoints.isEmpty else { return }

            do {
                let checkpoints = captured.checkpoints
                try storeRetrying { [lease] store in
                    try store.appendOutput(lease, lines: batch, checkpoints: checkpoints, storedBytes: storedBytes,
                                           droppedLines: droppedLines, now: Clock.nowMilliseconds())
                }
                observer?.committed(captured)
                if !batch.isEmpty { onBatch(batch) }
            } catch {
                observer?.discarded(captured)
                failure.withLock { $0 = error }
            }
        }
    }

    /// Runs `write`, retrying with a growing pause while the database is full,
    /// locked by another process or failing to write. A lost lease ends it at
    /// once. Retrying holds up this stream's reader, so the lines wait in the
    /// engine's log on disk instead of in memory.
    private func storeRetrying(_ write: (JobStore) throws -> Void) throws {
        let deadline = ContinuousClock.now + retryWindow
        var pause = Duration.milliseconds(250)
        while true {
            do {
                try database.runBlocking(write)
                return
            } catch StoreError.leaseLost(let lease) {
                throw StoreError.leaseLost(lease)
            } catch {
                guard ContinuousClock.now + pause < deadline else { throw error }
                Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
                pause = min(pause * 2, .seconds(4))
            }
        }
    }

    /// Writes pending lines every `interval` until the task is cancelled.
    func runTimer() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(interval.milliseconds))
            let hasPending = pending.withLock { $0.recorder.hasPending }
            if hasPending {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().async {
                        self.writePending()
                        continuation.resume()
                    }
                }
            }
        }
    }
}

import BerthCore
import BerthStore
import Dispatch
import Synchronization

/// Carries one attempt's output lines into the database.
///
/// The engine's reader threads call `append`; a batch is written as soon as it
/// is full (on the reader thread, which slows the reading of that stream
/// rather than filling memory), and a timer writes whatever waits longer than
/// the batch interval. `finish()` writes the last batch.
final class OutputPump: Sendable {
    private let recorder: Mutex<OutputRecorder>
    private let database: DatabaseQueue
    private let lease: Lease
    private let interval: TimeSpan
    /// Serializes writes so that batches reach the database in the order they were taken.
    private let writeLock = Mutex(())
    private let failure = Mutex<(any Error)?>(nil)
    private let onBatch: @Sendable ([StoredLine]) -> Void

    init(lease: Lease, database: DatabaseQueue, maxStoredBytes: Int64, batchLines: Int, interval: TimeSpan,
         onBatch: @escaping @Sendable ([StoredLine]) -> Void = { _ in }) {
        self.lease = lease
        self.database = database
        self.interval = interval
        self.onBatch = onBatch
        recorder = Mutex(OutputRecorder(maxStoredBytes: maxStoredBytes, batchLines: batchLines))
    }

    /// The first error a write met, such as a lost lease; later writes are skipped.
    var writeError: (any Error)? { failure.withLock { $0 } }

    func append(stream: StoredLine.Stream, text: String, truncated: Bool) {
        let now = Clock.nowMilliseconds()
        let full = recorder.withLock { recorder in
            recorder.append(stream: stream, text: text, truncated: truncated, at: now)
            return recorder.batchIsFull
        }
        if full {
            writePending()
        }
    }

    /// Writes whatever is pending; called by the interval timer and at the end.
    func writePending() {
        writeLock.withLock { _ in
            let (batch, storedBytes, droppedLines) = recorder.withLock { recorder in
                (recorder.takeBatch(), recorder.storedBytes, recorder.droppedLines)
            }
            guard !batch.isEmpty, failure.withLock({ $0 == nil }) else { return }
            do {
                try database.runBlocking { store in
                    try store.appendOutput(lease, lines: batch, storedBytes: storedBytes, droppedLines: droppedLines,
                                           now: Clock.nowMilliseconds())
                }
                onBatch(batch)
            } catch {
                failure.withLock { $0 = error }
            }
        }
    }

    /// Writes pending lines every `interval` until the task is cancelled.
    func runTimer() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(interval.milliseconds))
            let hasPending = recorder.withLock { $0.hasPending }
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

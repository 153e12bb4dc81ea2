import BerthCore
import BerthStore
import Foundation
import Synchronization

/// The clock reading most tests use as "now", in Unix milliseconds.
let startTime: Int64 = 1_800_000_000_000

/// A directory made for one test. The suite that owns it calls `remove()` in its `deinit`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/berth-store-tests.XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else {
            let reason = String(cString: strerror(errno))
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot create a temporary directory: \(reason)"])
        }
        path = String(cString: created)
    }

    /// Returns the path of `name` inside the directory.
    func file(_ name: String) -> String {
        path + "/" + name
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Opens (creating and migrating when needed) the database at `path`.
func openStore(_ path: String, now: Int64 = startTime) throws -> JobStore {
    try JobStore(options: DatabaseOptions(path: path), now: now)
}

/// Builds a valid spec with the fields that the store reads.
func makeSpec(
    queue: String = JobSpec.defaultQueue, priority: Int = 0, runAt: Int64? = nil, idempotencyKey: String? = nil,
    hold: Bool = false, labels: [String: String] = [:], command: [String] = ["true"]
) -> JobSpec {
    JobSpec(
        image: "alpine:3.20", command: command, queue: queue, priority: priority, idempotencyKey: idempotencyKey,
        runAt: runAt, labels: labels, hold: hold)
}

extension JobStore {
    /// Submits one spec and returns the id of its job.
    func submitOne(_ spec: JobSpec = makeSpec(), now: Int64 = startTime) throws -> Int64 {
        try submit([spec], now: now)[0].id
    }

    /// Claims the next job of any queue for `worker` with a one-minute lease.
    func claimNext(worker: String = "worker-a", now: Int64 = startTime) throws -> ClaimedJob? {
        try claim(queue: nil, worker: worker, leaseDuration: .minutes(1), now: now)
    }

    /// The job with `id`, which must exist.
    func record(_ id: Int64) throws -> JobRecord {
        try requireJob(id: id)
    }
}

/// A list that several threads may append to.
final class SharedList<Element: Sendable>: Sendable {
    private let storage = Mutex<[Element]>([])

    func append(_ element: Element) {
        storage.withLock { $0.append(element) }
    }

    var values: [Element] {
        storage.withLock { $0 }
    }
}

/// Runs `body` on `count` threads at once and returns the errors they threw.
///
/// Each thread waits at a shared gate so that all of them start together.
func runOnThreads(count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
    let errors = SharedList<String>()
    let gate = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    for index in 0..<count {
        done.enter()
        let thread = Thread {
            gate.wait()
            do {
                try body(index)
            } catch {
                errors.append("thread \(index): \(error)")
            }
            done.leave()
        }
        thread.start()
    }
    for _ in 0..<count {
        gate.signal()
    }
    done.wait()
    return errors.values
}

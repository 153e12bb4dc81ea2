import BerthCore
import Dispatch

/// A `JobStore` confined to one serial dispatch queue, for use from async code.
///
/// SQLite calls block, so they must stay off Swift's cooperative thread pool,
/// which on a two-core host has about two threads. Every call here runs on the
/// queue's own thread and resumes the caller when it is done.
public final class DatabaseQueue: @unchecked Sendable {
    // @unchecked: `store` is touched only on `queue`, which runs one block at a time.
    private let store: JobStore
    private let queue: DispatchQueue

    public init(options: DatabaseOptions, label: String = "berth.database") throws {
        store = try JobStore(options: options)
        queue = DispatchQueue(label: label)
    }

    /// Runs `body` with the store on the database queue.
    public func run<T: Sendable>(_ body: @escaping @Sendable (JobStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.store) })
            }
        }
    }

    /// Runs `body` with the store and waits for it, from a thread that may block.
    public func runBlocking<T>(_ body: (JobStore) throws -> T) rethrows -> T {
        try queue.sync { try body(store) }
    }
}

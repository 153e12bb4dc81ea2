import BerthCore
import Dispatch
import Glibc

/// A `JobStore` confined to one serial dispatch queue, for use from async code.
///
/// SQLite calls block, so they must stay off Swift's cooperative thread pool,
/// which on a two-core host has about two threads. Every call here runs on the
/// queue's own thread and resumes the caller when it is done.
public final class DatabaseQueue: @unchecked Sendable {
    // @unchecked: `store` is touched only on `queue`, which runs one block at a
    // time, and `fileIdentity` is never changed after `init`.
    private let store: JobStore
    private let queue: DispatchQueue
    private let path: String
    private let fileIdentity: FileIdentity?

    public init(options: DatabaseOptions, label: String = "berth.database") throws {
        store = try JobStore(options: options)
        queue = DispatchQueue(label: label)
        path = options.path
        fileIdentity = FileIdentity(path: options.path)
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

    /// Returns how the file at the database's path changed since it was opened,
    /// or nil when it is still the opened file.
    ///
    /// An open connection keeps writing to a database file that was deleted or
    /// replaced, so its writes reach no other process and vanish when it closes.
    public func fileChange() -> DatabaseFileChange? {
        guard let fileIdentity else { return nil }
        var status = stat()
        guard stat(path, &status) == 0 else {
            return errno == ENOENT ? .deleted(path: path) : nil
        }
        guard FileIdentity(status) == fileIdentity else { return .replaced(path: path) }
        return nil
    }
}

/// A change to the database file under an open connection.
public enum DatabaseFileChange: Sendable, Equatable, CustomStringConvertible {
    /// No file exists at the path any more.
    case deleted(path: String)
    /// Another file took the path, such as a restored backup.
    case replaced(path: String)

    public var description: String {
        switch self {
        case .deleted(let path):
            "database \(path) was deleted while it was open; what this process writes now goes to the deleted file and is lost. Restore the file from a backup, or start berth again to create a new, empty database"
        case .replaced(let path):
            "database \(path) was replaced by another file while it was open; what this process writes now goes to the old file and is lost. Start berth again to use the new file"
        }
    }
}

/// The device and inode number of a file, which stay the same while the file
/// exists and change when another file takes its path.
private struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }

    init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        self.init(status)
    }
}

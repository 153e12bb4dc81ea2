import BerthCore
import Foundation

/// How to open the job database.
public struct DatabaseOptions: Sendable {
    /// SQLite's `synchronous` setting in WAL mode.
    public enum Synchronous: String, Sendable, CaseIterable {
        /// Commits survive a crash of berth; the last commits before a power
        /// loss or kernel crash can be lost, but the database stays intact.
        case normal
        /// Every commit is on disk before it returns, at the cost of one fsync
        /// per transaction.
        case full
    }

    public var path: String
    public var synchronous: Synchronous
    /// How long a call waits for another process's write lock.
    public var busyTimeout: TimeSpan
    /// Group that may read the database; the file is then created 0640 instead of 0600.
    public var adminGroup: gid_t?
    public var readOnly: Bool

    public init(
        path: String, synchronous: Synchronous = .normal, busyTimeout: TimeSpan = .seconds(30),
        adminGroup: gid_t? = nil, readOnly: Bool = false
    ) {
        self.path = path
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
        self.adminGroup = adminGroup
        self.readOnly = readOnly
    }

    /// The default path: `/var/lib/berth/berth.db` for root, otherwise
    /// `$XDG_STATE_HOME/berth/berth.db` or `~/.local/state/berth/berth.db`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if getuid() == 0 {
            return "/var/lib/berth/berth.db"
        }
        if let stateHome = environment["XDG_STATE_HOME"], stateHome.hasPrefix("/") {
            return stateHome + "/berth/berth.db"
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/berth/berth.db"
    }
}

enum DatabaseFile {
    /// Creates the database file and its directory with restrictive modes when
    /// they do not exist yet. SQLite gives the `-wal` and `-shm` files the
    /// database file's permissions, so they inherit the mode set here.
    static func prepare(_ options: DatabaseOptions) throws {
        let path = options.path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: options.adminGroup == nil ? 0o700 : 0o750])
            } catch {
                throw StoreError.cannotCreate(path: path, reason: "cannot create directory \(directory): \(error.localizedDescription)")
            }
            if let group = options.adminGroup {
                chown(directory, uid_t.max, group)
            }
        }

        let mode: mode_t = options.adminGroup == nil ? 0o600 : 0o640
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode)
        if descriptor < 0 {
            // Another process created it first, or it already existed: either is fine.
            if errno == EEXIST { return }
            throw StoreError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }

        // The umask may have removed bits; set the mode exactly.
        fchmod(descriptor, mode)
        if let group = options.adminGroup, fchown(descriptor, uid_t.max, group) != 0 {
            throw StoreError.cannotCreate(path: path, reason: "cannot give group \(group) the file: \(String(cString: strerror(errno)))")
        }
    }
}

import Foundation

/// The host directory of one job, mounted read-write at /workspace in each of
/// its containers and kept between attempts on this host.
struct Workspace: Sendable {
    let path: String

    init(root: String, jobID: Int64) {
        path = "\(root)/\(jobID)"
    }

    /// Creates the directory and `subdirectories` when missing and gives them
    /// to the container's user when that user is numeric (`UID` or `UID:GID`);
    /// a named user must be able to write directories owned by the daemon's user.
    func prepare(containerUser: String, subdirectories: [String] = []) throws {
        let parts = containerUser.split(separator: ":", maxSplits: 1).map { UInt32($0) }
        let owner: (uid: uid_t, gid: gid_t)? = (parts.first ?? nil).map { uid in (uid, parts.count > 1 ? (parts[1] ?? uid) : uid) }

        for directory in [path] + subdirectories.map({ path + "/" + $0 }) {
            var info = stat()
            if lstat(directory, &info) == 0, info.st_mode & S_IFMT != S_IFDIR {
                // The job may have put a file or a symbolic link here; never follow it.
                throw WorkspaceError(path: directory, reason: "exists and is not a directory")
            }
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            }
            if let owner, lchown(directory, owner.uid, owner.gid) != 0 {
                throw WorkspaceError(path: directory, reason: "cannot give it to \(containerUser): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Bytes used by regular files in the workspace, counted without following
    /// symbolic links; stops counting once `limit` is exceeded.
    func diskUsage(limit: Int64) -> Int64 {
        var total: Int64 = 0
        var pending = [path]
        while let directory = pending.popLast() {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for entry in entries {
                let child = directory + "/" + entry
                var info = stat()
                guard lstat(child, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    pending.append(child)
                case S_IFREG:
                    // Allocated blocks, so sparse files count what they occupy.
                    total += Int64(info.st_blocks) * 512
                default:
                    break
                }
                if total > limit { return total }
            }
        }
        return total
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct WorkspaceError: Error, CustomStringConvertible {
    let path: String
    let reason: String

    var description: String { "workspace \(path): \(reason)" }
}

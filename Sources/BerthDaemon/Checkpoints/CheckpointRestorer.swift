import BerthStore
import Foundation

/// Puts stored checkpoints back into a job's workspace before an attempt,
/// where the workspace is new (another host, or deleted) or was damaged.
///
/// Like capture, it trusts nothing in the workspace. Directories are opened
/// with O_NOFOLLOW one component at a time, and a symbolic link or file where
/// a directory belongs is removed and replaced. Every file is written to a
/// temporary name and renamed into place, which replaces a link instead of
/// writing through it.
struct CheckpointRestorer: Sendable {
    let workspace: String
    let directory: [String]
    /// The owner for created directories and files: the container's numeric user, when it has one.
    let owner: (uid: uid_t, gid: gid_t)?

    struct RestoreError: Error, CustomStringConvertible {
        let path: String
        let reason: String

        var description: String { "cannot restore checkpoint \(path): \(reason)" }
    }

    /// Writes each checkpoint in `checkpoints` whose file is missing, is not a
    /// regular file, or (for `exact`) has other content than the stored copy.
    /// Returns the names it wrote.
    func restore(_ checkpoints: [CheckpointRecord], exact: Set<Int64>) throws -> [String] {
        let directoryDescriptor = try openOrCreateDirectory()
        defer { close(directoryDescriptor) }

        var written: [String] = []
        for checkpoint in checkpoints {
            guard let storedPath = checkpoint.storedPath, let sha256 = checkpoint.sha256 else { continue }
            if let status = FileDescriptors.status(at: directoryDescriptor, checkpoint.name),
               status.st_mode & S_IFMT == S_IFREG {
                guard exact.contains(checkpoint.id),
                      !contentMatches(directoryDescriptor, checkpoint.name, sha256: sha256, size: checkpoint.size ?? -1)
                else { continue }
            } else if let status = FileDescriptors.status(at: directoryDescriptor, checkpoint.name),
                      status.st_mode & S_IFMT == S_IFDIR {
                throw RestoreError(path: pathOf(checkpoint.name), reason: "a directory is in the way")
            }
            try write(storedPath, as: checkpoint.name, in: directoryDescriptor)
            written.append(checkpoint.name)
        }
        return written
    }

    /// Creates the directory where it is missing, replacing a symbolic link
    /// or file that took the place of one of its components.
    func ensureDirectory() throws {
        close(try openOrCreateDirectory())
    }

    private func pathOf(_ name: String) -> String {
        ([workspace] + directory + [name]).joined(separator: "/")
    }

    /// Opens the checkpoint directory, creating each missing component and
    /// replacing any component that is not a real directory.
    private func openOrCreateDirectory() throws -> Int32 {
        var descriptor = open(workspace, FileDescriptors.directoryFlags)
        guard descriptor >= 0 else {
            throw RestoreError(path: workspace, reason: "cannot open the workspace: \(FileDescriptors.errorText)")
        }
        for (index, component) in directory.enumerated() {
            var next = openat(descriptor, component, FileDescriptors.directoryFlags)
            if next < 0, errno == ELOOP || errno == ENOTDIR {
                // A symbolic link or a file took the directory's place; unlinkat removes it, not its target.
                unlinkat(descriptor, component, 0)
            }
            if next < 0 {
                if mkdirat(descriptor, component, 0o700) != 0, errno != EEXIST {
                    let reason = FileDescriptors.errorText
                    close(descriptor)
                    throw RestoreError(path: directory[...index].joined(separator: "/"), reason: "cannot create it: \(reason)")
                }
                if let owner {
                    fchownat(descriptor, component, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW)
                }
                next = openat(descriptor, component, FileDescriptors.directoryFlags)
            }
            let openError = errno
            close(descriptor)
            guard next >= 0 else {
                throw RestoreError(path: directory[...index].joined(separator: "/"), reason: String(cString: strerror(openError)))
            }
            descriptor = next
        }
        return descriptor
    }

    /// Returns whether the workspace file has the stored content, reading it only when the sizes agree.
    private func contentMatches(_ directoryDescriptor: Int32, _ name: String, sha256: String, size: Int64) -> Bool {
        let descriptor = openat(directoryDescriptor, name, FileDescriptors.fileFlags)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        guard let status = FileDescriptors.status(of: descriptor), status.st_mode & S_IFMT == S_IFREG,
              Int64(status.st_size) == size
        else { return false }

        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = FileDescriptors.read(descriptor, into: buffer)
            if count < 0 { return false }
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return hasher.finalizeHex() == sha256
    }

    /// Copies the stored file (the daemon's own, so trusted) to a temporary
    /// name in the checkpoint directory and renames it to `name`.
    private func write(_ storedPath: String, as name: String, in directoryDescriptor: Int32) throws {
        let source = open(storedPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard source >= 0 else {
            throw RestoreError(path: pathOf(name), reason: "cannot read the stored copy \(storedPath): \(FileDescriptors.errorText)")
        }
        defer { close(source) }

        let temporary = ".berth-restore-\(FileDescriptors.randomSuffix()).tmp"
        let target = openat(directoryDescriptor, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard target >= 0 else {
            throw RestoreError(path: pathOf(name), reason: "cannot create a temporary file: \(FileDescriptors.errorText)")
        }
        var renamed = false
        defer {
            close(target)
            if !renamed { unlinkat(directoryDescriptor, temporary, 0) }
        }

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = FileDescriptors.read(source, into: buffer)
            guard count >= 0 else {
                throw RestoreError(path: pathOf(name), reason: "cannot read the stored copy: \(FileDescriptors.errorText)")
            }
            if count == 0 { break }
            guard FileDescriptors.writeAll(target, UnsafeRawBufferPointer(rebasing: buffer[0..<count])) else {
                throw RestoreError(path: pathOf(name), reason: "cannot write: \(FileDescriptors.errorText)")
            }
        }
        if let owner, fchown(target, owner.uid, owner.gid) != 0 {
            throw RestoreError(path: pathOf(name), reason: "cannot give it to the container's user: \(FileDescriptors.errorText)")
        }
        guard fsync(target) == 0 else {
            throw RestoreError(path: pathOf(name), reason: "fsync failed: \(FileDescriptors.errorText)")
        }
        guard renameat(directoryDescriptor, temporary, directoryDescriptor, name) == 0 else {
            throw RestoreError(path: pathOf(name), reason: "cannot rename into place: \(FileDescriptors.errorText)")
        }
        renamed = true
        fsync(directoryDescriptor)
    }
}

extension CheckpointRestorer {
    /// Returns the numeric owner of a container user such as `65534:65534`, or nil for a named user.
    static func numericOwner(_ user: String) -> (uid: uid_t, gid: gid_t)? {
        let parts = user.split(separator: ":", maxSplits: 1).map { UInt32($0) }
        guard let first = parts.first, let uid = first else { return nil }
        let gid = parts.count > 1 ? (parts[1] ?? uid) : uid
        return (uid, gid)
    }
}

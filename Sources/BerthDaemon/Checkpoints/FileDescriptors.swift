import Foundation

/// Small wrappers over the *at(2) system calls that capture and restore use
/// to walk a job's workspace without following symbolic links.
enum FileDescriptors {
    /// Flags for opening a directory of the workspace: never a symbolic link,
    /// never a FIFO or device (O_DIRECTORY fails on those before opening).
    static let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK

    /// Flags for opening a file of the workspace for reading. O_NONBLOCK makes
    /// the open of a FIFO return at once instead of waiting for a writer, and
    /// O_NOCTTY keeps a terminal from becoming the daemon's.
    static let fileFlags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY

    /// `fstatat` without following a final symbolic link; nil with errno set on failure.
    static func status(at directory: Int32, _ name: String) -> Glibc.stat? {
        var info = Glibc.stat()
        return fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? info : nil
    }

    /// `fstat`; nil with errno set on failure.
    static func status(of descriptor: Int32) -> Glibc.stat? {
        var info = Glibc.stat()
        return fstat(descriptor, &info) == 0 ? info : nil
    }

    /// The entry names of an open directory, as raw bytes, without `.` and `..`,
    /// at most `limit` of them. The descriptor stays open and owned by the caller.
    static func entries(of directory: Int32, limit: Int) -> (names: [[UInt8]], truncated: Bool)? {
        let copy = dup(directory)
        guard copy >= 0 else { return nil }
        guard let stream = fdopendir(copy) else {
            close(copy)
            return nil
        }
        defer { closedir(stream) }
        rewinddir(stream)

        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            if names.count == limit { return (names, true) }
            names.append(name)
        }
        return (names, false)
    }

    /// Reads into `buffer` from `descriptor`, retrying on EINTR; returns the
    /// byte count, 0 at the end, or -1 with errno set.
    static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0 && errno == EINTR { continue }
            return count
        }
    }

    /// Writes all of `bytes` to `descriptor`; false with errno set on failure.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += count
        }
        return true
    }

    /// Fsyncs the directory at `path`, so that a rename in it survives a crash.
    static func syncDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// The description of the current errno, such as "Permission denied".
    static var errorText: String { String(cString: strerror(errno)) }

    /// What kind of file `mode` describes, in words for a refusal reason.
    static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFLNK: "a symbolic link"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "a file of unknown type"
        }
    }

    /// A random suffix for temporary file names.
    static func randomSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A new directory made with `mkdtemp`, removed with its contents when the object is released.
public final class TemporaryDirectory: Sendable {
    public let url: URL

    public var path: String { url.path }

    /// Creates `PARENT/PREFIX-XXXXXX`.
    ///
    /// - Parameters:
    ///   - parent: Defaults to the system's temporary directory. The tests
    ///     that bind Unix sockets pass `/tmp`, because a socket path may have
    ///     at most 107 bytes.
    ///   - permissions: Applied after creation. Rootful podman bind-mounts
    ///     workspaces from inside the directory, and 0755 lets a container's
    ///     user reach its own workspace, which it owns.
    public init(prefix: String, parent: String? = nil, permissions: mode_t? = nil) throws {
        let parent = parent ?? FileManager.default.temporaryDirectory.path
        var template = Array("\(parent)/\(prefix)-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw TestFailure("mkdtemp in \(parent) failed: \(String(cString: strerror(errno)))")
        }
        url = URL(fileURLWithPath: String(cString: created))
        if let permissions {
            chmod(url.path, permissions)
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// Returns the path of `name` inside the directory.
    public func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    /// Writes `text` to the file `name` in the directory and returns its path.
    @discardableResult
    public func write(_ text: String, to name: String) throws -> String {
        let path = path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

import Foundation

/// Finds secret values when a container starts: first a file named after the
/// secret in the secrets directory, then the daemon's own environment.
///
/// Values are handed to the engine's environment only, never to an argv, the
/// database or a log line.
public struct SecretResolver: Sendable {
    public let directory: String
    private let environment: [String: String]

    /// Largest secret file read, in bytes.
    public static let maximumSize = 64 * 1024

    public init(directory: String, environment: [String: String]) {
        self.directory = directory
        self.environment = environment
    }

    public struct MissingSecret: Error, CustomStringConvertible {
        public let name: String
        public let directory: String
        public let reason: String

        public var description: String {
            "secret \(name) not found: \(reason); create \(directory)/\(name) (mode 0600, owned by the daemon's user) or set \(name) in the daemon's environment"
        }
    }

    /// The value of every secret in `names`, or an error naming the first missing one.
    public func resolve(_ names: [String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for name in names {
            values[name] = try resolve(name)
        }
        return values
    }

    private func resolve(_ name: String) throws -> String {
        let path = directory + "/" + name
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw MissingSecret(name: name, directory: directory, reason: "\(path) is not a regular file")
            }
            guard info.st_mode & 0o077 == 0 else {
                throw MissingSecret(name: name, directory: directory, reason: "\(path) is readable by other users; run chmod 600 on it")
            }
            guard info.st_size <= Self.maximumSize else {
                throw MissingSecret(name: name, directory: directory, reason: "\(path) is larger than \(Self.maximumSize) bytes")
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MissingSecret(name: name, directory: directory, reason: "\(path) cannot be read")
            }
            var value = String(decoding: data, as: UTF8.self)
            // A trailing newline from an editor or `echo` is not part of the secret.
            if value.hasSuffix("\n") { value.removeLast() }
            guard !value.contains("\0") else {
                throw MissingSecret(name: name, directory: directory, reason: "\(path) contains a NUL byte")
            }
            return value
        }
        if let value = environment[name] {
            return value
        }
        throw MissingSecret(name: name, directory: directory, reason: "no file \(path) and no variable \(name) in the daemon's environment")
    }
}

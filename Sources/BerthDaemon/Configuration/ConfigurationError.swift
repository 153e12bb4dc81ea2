/// A configuration file that cannot be used: which key, the value found, and what is valid.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// Exit status for a configuration error, `EX_CONFIG` from sysexits(3).
    public static let exitStatus: Int32 = 78

    public var file: String
    /// Dotted path of the key, such as `queues.gpu.memory`; empty for the whole file.
    public var keyPath: String
    public var problem: String

    public var description: String {
        keyPath.isEmpty ? "\(file): \(problem)" : "\(file): \(keyPath): \(problem)"
    }
}

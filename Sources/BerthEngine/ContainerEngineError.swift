/// A failure of a container engine call.
///
/// Messages name the operation and the value involved, never an environment
/// value, because those may be secrets.
public enum ContainerEngineError: Error, Hashable, CustomStringConvertible {
    /// The engine's command-line tool could not be found or started.
    case engineUnavailable(executable: String, reason: String)
    /// The engine command ran past `timeout`, so berth killed it.
    case timedOut(operation: String, timeout: Duration)
    /// The engine command failed, and `standardError` is the end of what it printed there.
    case failed(operation: String, status: TerminationStatus, standardError: String)
    /// The engine has no container with this name or id.
    case noSuchContainer(String)
    /// A value for the container or the engine configuration was rejected before any command ran.
    case invalidValue(field: String, value: String, reason: String)
    /// The command succeeded, but its output could not be parsed.
    case unexpectedOutput(operation: String, detail: String)

    public var description: String {
        switch self {
        case .engineUnavailable(let executable, let reason):
            return "container engine \(executable) is unavailable: \(reason)"
        case .timedOut(let operation, let timeout):
            return "container engine call \(operation) timed out after \(timeout) and was killed. Check that the engine is responsive"
        case .failed(let operation, let status, let standardError):
            let detail = standardError.isEmpty ? "no error output" : standardError
            return "container engine call \(operation) failed (\(status)): \(detail)"
        case .noSuchContainer(let container):
            return "no such container: \(container)"
        case .invalidValue(let field, let value, let reason):
            return "invalid \(field) \"\(value)\": \(reason)"
        case .unexpectedOutput(let operation, let detail):
            return "container engine call \(operation) printed unexpected output: \(detail)"
        }
    }
}

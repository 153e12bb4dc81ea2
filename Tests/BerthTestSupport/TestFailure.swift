import Testing

/// A precondition of a test that did not hold, or a tool that it needs and that is missing.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Polls `condition` every `interval` until it returns true.
///
/// When `timeout` passes first, it records an issue at the caller's source
/// location and throws, so that the test stops instead of checking a state
/// that never came.
public func waitUntil(
    _ description: String, timeout: Duration = .seconds(30), interval: Duration = .milliseconds(100),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else {
            let message = "timed out after \(timeout) waiting until \(description)"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
            throw TestFailure(message)
        }
        try await Task.sleep(for: interval)
    }
}

/// A precondition of a test that did not hold, or a tool that it needs and that is missing.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Polls `condition` every `interval` until it returns true.
///
/// When `timeout` passes first, it throws, so that the test stops instead of
/// checking a state that never came. The message names the caller's line,
/// because this target is also built outside the tests, without Swift Testing.
public func waitUntil(
    _ description: String, timeout: Duration = .seconds(30), interval: Duration = .milliseconds(100),
    file: String = #filePath, line: Int = #line, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else {
            throw TestFailure("\(file):\(line): timed out after \(timeout) waiting until \(description)")
        }
        try await Task.sleep(for: interval)
    }
}

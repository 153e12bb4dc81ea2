import Synchronization

extension ChildProcess {
    /// The default maximum line length of the streaming mode, in bytes.
    public static let defaultMaximumLineBytes = 64 * 1024

    /// Starts `command` and calls `onLine` with each line of its stdout and stderr.
    ///
    /// `onLine` runs on the two reader threads, so calls for the two streams may
    /// overlap and their relative order is not kept. While `onLine` runs, that
    /// stream is not read, so a slow handler slows the child down instead of
    /// filling memory. `onFinished` runs once, after the last line of both streams.
    public static func start(
        _ command: ProcessCommand, maximumLineBytes: Int = defaultMaximumLineBytes,
        onLine: @escaping @Sendable (OutputLine) -> Void,
        onFinished: @escaping @Sendable () -> Void = {}
    ) throws(ChildProcessError) -> ChildProcess {
        let splitter = LineSink(maximumLineBytes: maximumLineBytes, onLine: onLine, onFinished: onFinished)
        return try start(command, sink: splitter.sink)
    }

    /// Starts `command` and returns its stdout and stderr lines as one stream.
    ///
    /// The stream ends after the last line of both pipes. It buffers without
    /// limit, so memory grows when the consumer stops reading while the child
    /// keeps printing. The callback form of `start` applies back-pressure instead.
    public static func startStreamingLines(
        _ command: ProcessCommand, maximumLineBytes: Int = defaultMaximumLineBytes
    ) throws(ChildProcessError) -> (process: ChildProcess, lines: AsyncStream<OutputLine>) {
        let (lines, continuation) = AsyncStream.makeStream(of: OutputLine.self, bufferingPolicy: .unbounded)
        let process = try start(
            command, maximumLineBytes: maximumLineBytes,
            onLine: { line in continuation.yield(line) },
            onFinished: { continuation.finish() })
        return (process, lines)
    }
}

/// Splits each output stream into lines on its reader thread.
final class LineSink: Sendable {
    private let standardOutput: Mutex<LineSplitter>
    private let standardError: Mutex<LineSplitter>
    private let onLine: @Sendable (OutputLine) -> Void
    private let onFinished: @Sendable () -> Void
    private let openStreamCount = Mutex(2)

    init(
        maximumLineBytes: Int, onLine: @escaping @Sendable (OutputLine) -> Void,
        onFinished: @escaping @Sendable () -> Void
    ) {
        standardOutput = Mutex(LineSplitter(maximumLineBytes: maximumLineBytes))
        standardError = Mutex(LineSplitter(maximumLineBytes: maximumLineBytes))
        self.onLine = onLine
        self.onFinished = onFinished
    }

    var sink: ChildProcess.OutputSink {
        ChildProcess.OutputSink(
            receive: { [self] stream, bytes in
                let lines = withSplitter(for: stream) { $0.append(bytes) }
                for line in lines {
                    onLine(OutputLine(stream: stream, line: line))
                }
            },
            finish: { [self] stream in
                if let line = withSplitter(for: stream, { $0.finish() }) {
                    onLine(OutputLine(stream: stream, line: line))
                }
                let isLast = openStreamCount.withLock { count in
                    count -= 1
                    return count == 0
                }
                if isLast {
                    onFinished()
                }
            })
    }

    private func withSplitter<Result: Sendable>(
        for stream: StandardStream, _ body: (inout LineSplitter) -> Result
    ) -> Result {
        switch stream {
        case .standardOutput: standardOutput.withLock { body(&$0) }
        case .standardError: standardError.withLock { body(&$0) }
        }
    }
}

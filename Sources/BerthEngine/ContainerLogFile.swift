import Foundation
import Glibc
import Synchronization

/// Follows a container's log file in the k8s-file format that podman's conmon
/// writes, and calls back with each line of the container's stdout and stderr.
///
/// Each record of the file is one line, `TIMESTAMP STREAM TAG CONTENT`. STREAM
/// is `stdout` or `stderr`. TAG is `F` when CONTENT ends a line of the
/// container's output, or `P` when it is one part of a longer line, because
/// conmon 2.1 cuts lines at its 8 KiB buffer. The parts of one stream are
/// joined and split again by a `LineSplitter` per stream, so truncation and
/// invalid UTF-8 are handled as for a child process's pipes.
///
/// Reading the file directly needs no engine process per container, and after
/// the container has exited it returns every line. After the container's exit
/// conmon drains its stdout and stderr into the log and syncs the log before
/// it writes the exit file that `podman wait` reads (conmon's `main`, 2.1).
/// `podman logs --follow` in podman 4.3 can stop at the exit before it has
/// read the whole file.
///
/// NOTE: A file that conmon replaces at its `log_size_max` is followed to its
/// new inode, but lines written to the old file after the last read are lost,
/// as they are for podman's own reader.
public final class ContainerLogFile: Sendable {
    private struct State {
        var containerExited = false
        var cancelled = false
    }

    public let path: String
    private let maximumLineBytes: Int
    private let state = Mutex(State())
    /// Signalled at the exit and at a cancellation, so that a reader pausing at
    /// the end of the file does not sleep out its pause first.
    private let wakeUp = DispatchSemaphore(value: 0)

    /// The shortest and longest pause when the reader has reached the end of the file.
    static let minimumPause = Duration.milliseconds(1)
    static let maximumPause = Duration.milliseconds(100)

    public init(path: String, maximumLineBytes: Int = ChildProcess.defaultMaximumLineBytes) {
        self.path = path
        self.maximumLineBytes = maximumLineBytes
    }

    /// Tells a running `follow` that the container has exited, so it returns
    /// once it has read to the end of the file.
    public func containerExited() {
        state.withLock { $0.containerExited = true }
        wakeUp.signal()
    }

    /// Reads the file until the container has exited and every line is read,
    /// calling `onLine` on a thread of its own for each line, in file order.
    ///
    /// Throws `CancellationError` when the task is cancelled, and
    /// `ContainerEngineError.unexpectedOutput` when the file cannot be opened
    /// or read.
    public func follow(onLine: @escaping @Sendable (OutputLine) -> Void) async throws {
        let outcome = CompletionLatch<Result<Void, ContainerEngineError>>()
        let thread = Thread { [self] in
            outcome.complete(with: readUntilExit(onLine: onLine))
        }
        thread.name = "berth-log-file"
        thread.start()

        let result = await withTaskCancellationHandler {
            await outcome.wait()
        } onCancel: {
            state.withLock { $0.cancelled = true }
            wakeUp.signal()
        }
        guard let result else {
            throw CancellationError()
        }
        if state.withLock({ $0.cancelled }) {
            throw CancellationError()
        }
        try result.get()
    }

    /// Reads and parses the file, blocking its thread, until the exit or a cancellation.
    private func readUntilExit(onLine: @Sendable (OutputLine) -> Void) -> Result<Void, ContainerEngineError> {
        var descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(.unexpectedOutput(operation: "read log file", detail: "cannot open \(path): \(String(cString: strerror(errno)))"))
        }
        defer { close(descriptor) }

        var parser = KubernetesLogParser(maximumLineBytes: maximumLineBytes)
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var pause = Self.minimumPause
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unexpectedOutput(operation: "read log file", detail: "cannot read \(path): \(String(cString: strerror(errno)))"))
            }
            // The exit flag is read before the next read, so whatever conmon
            // wrote before the container exited is still read.
            let (exited, cancelled) = state.withLock { ($0.containerExited, $0.cancelled) }
            if cancelled {
                return .success(())
            }
            if count > 0 {
                parser.append(buffer[..<count], onLine: onLine)
                pause = Self.minimumPause
                continue
            }

            // At the end of the file.
            if exited {
                let finalCount = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if finalCount > 0 {
                    parser.append(buffer[..<finalCount], onLine: onLine)
                    continue
                }
                parser.finish(onLine: onLine)
                return .success(())
            }

            if let replacement = reopenedIfReplaced(descriptor) {
                close(descriptor)
                descriptor = replacement
                continue
            }
            let nanoseconds = Int(pause.components.seconds * 1_000_000_000 + pause.components.attoseconds / 1_000_000_000)
            _ = wakeUp.wait(timeout: .now() + .nanoseconds(nanoseconds))
            pause = min(pause * 2, Self.maximumPause)
        }
    }

    /// Returns a descriptor of a new file at `path` when conmon replaced the one open.
    private func reopenedIfReplaced(_ descriptor: Int32) -> Int32? {
        var open = stat()
        var current = stat()
        guard fstat(descriptor, &open) == 0, stat(path, &current) == 0,
            open.st_ino != current.st_ino || open.st_dev != current.st_dev
        else { return nil }
        let replacement = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        return replacement >= 0 ? replacement : nil
    }
}

/// Splits k8s-file records into the container's lines, one `LineSplitter` per stream.
struct KubernetesLogParser {
    private var record: [UInt8] = []
    private var standardOutput: LineSplitter
    private var standardError: LineSplitter
    /// The lines of the record being parsed, kept to reuse its storage.
    private var lines: [SplitLine] = []
    /// Records that are not in the k8s-file format, which are skipped.
    private(set) var invalidRecordCount = 0

    init(maximumLineBytes: Int) {
        standardOutput = LineSplitter(maximumLineBytes: maximumLineBytes)
        standardError = LineSplitter(maximumLineBytes: maximumLineBytes)
    }

    /// Parses the next bytes of the file and calls `onLine` for each line they complete.
    mutating func append(_ bytes: ArraySlice<UInt8>, onLine: (OutputLine) -> Void) {
        var rest = bytes
        while let newline = rest.firstIndex(of: 0x0A) {
            if record.isEmpty {
                parseRecord(rest[rest.startIndex..<newline], onLine: onLine)
            } else {
                record.append(contentsOf: rest[rest.startIndex..<newline])
                let complete = record
                record.removeAll(keepingCapacity: true)
                parseRecord(complete[...], onLine: onLine)
            }
            rest = rest[(newline + 1)...]
        }
        record.append(contentsOf: rest)
    }

    /// Ends both streams, calling `onLine` with a last line that had no newline.
    mutating func finish(onLine: (OutputLine) -> Void) {
        if !record.isEmpty {
            let complete = record
            record.removeAll()
            parseRecord(complete[...], onLine: onLine)
        }
        if let line = standardOutput.finish() {
            onLine(OutputLine(stream: .standardOutput, line: line))
        }
        if let line = standardError.finish() {
            onLine(OutputLine(stream: .standardError, line: line))
        }
    }

    private mutating func parseRecord(_ record: ArraySlice<UInt8>, onLine: (OutputLine) -> Void) {
        // TIMESTAMP, then STREAM, then TAG, each ended by one space.
        guard let timestampEnd = record.firstIndex(of: 0x20) else {
            invalidRecordCount += 1
            return
        }
        let afterTimestamp = record[(timestampEnd + 1)...]
        guard let streamEnd = afterTimestamp.firstIndex(of: 0x20) else {
            invalidRecordCount += 1
            return
        }
        let streamName = afterTimestamp[..<streamEnd]
        let afterStream = afterTimestamp[(streamEnd + 1)...]
        guard let tag = afterStream.first, tag == UInt8(ascii: "F") || tag == UInt8(ascii: "P") else {
            invalidRecordCount += 1
            return
        }
        // Conmon writes the separator even when the content is empty.
        let contentStart = afterStream.index(after: afterStream.startIndex)
        let content = contentStart < afterStream.endIndex ? afterStream[(contentStart + 1)...] : afterStream[contentStart...]
        let isFull = tag == UInt8(ascii: "F")

        if streamName.elementsEqual("stdout".utf8) {
            feed(content, isFull: isFull, stream: .standardOutput, onLine: onLine)
        } else if streamName.elementsEqual("stderr".utf8) {
            feed(content, isFull: isFull, stream: .standardError, onLine: onLine)
        } else {
            invalidRecordCount += 1
        }
    }

    private mutating func feed(_ content: ArraySlice<UInt8>, isFull: Bool, stream: StandardStream, onLine: (OutputLine) -> Void) {
        switch (stream, isFull) {
        case (.standardOutput, true): standardOutput.appendLastPart(content, into: &lines)
        case (.standardOutput, false): standardOutput.appendPart(content, into: &lines)
        case (.standardError, true): standardError.appendLastPart(content, into: &lines)
        case (.standardError, false): standardError.appendPart(content, into: &lines)
        }
        for line in lines {
            onLine(OutputLine(stream: stream, line: line))
        }
        lines.removeAll(keepingCapacity: true)
    }
}

/// One line cut from a byte stream by `LineSplitter`.
public struct SplitLine: Hashable, Sendable {
    /// The line without its newline, decoded as UTF-8.
    public var text: String
    /// The line was longer than the splitter's maximum, so `text` contains only its start.
    public var isTruncated: Bool
    /// The bytes were not valid UTF-8, and `text` has U+FFFD in place of each invalid sequence.
    public var containsInvalidUTF8: Bool
    /// The stream ended before a newline closed this line.
    public var isUnterminated: Bool

    public init(text: String, isTruncated: Bool = false, containsInvalidUTF8: Bool = false, isUnterminated: Bool = false) {
        self.text = text
        self.isTruncated = isTruncated
        self.containsInvalidUTF8 = containsInvalidUTF8
        self.isUnterminated = isUnterminated
    }
}

/// Splits a byte stream into lines of bounded length.
///
/// The rules:
/// - A line ends at LF (0x0A). With `stripsCarriageReturn` (the default) one CR
///   directly before the LF is removed too, so CRLF and LF give the same text.
///   A CR anywhere else is kept.
/// - A line that reaches `maximumLineBytes` without a newline is returned at once
///   with `isTruncated` set, cut after the last whole UTF-8 character that fits.
///   The rest of that line, up to and including the next LF, is discarded and
///   counted in `discardedByteCount`.
/// - Bytes that are not valid UTF-8 are decoded as `String(decoding:as:)` does,
///   with U+FFFD for each invalid sequence, and the line has `containsInvalidUTF8` set.
/// - `finish()` returns the bytes after the last LF as a final line with
///   `isUnterminated` set, or nil when there are none.
///
/// The splitter stores at most `maximumLineBytes` bytes, whatever the input.
public struct LineSplitter: Sendable {
    /// The maximum line length kept, in bytes of UTF-8 without the newline.
    public let maximumLineBytes: Int
    public let stripsCarriageReturn: Bool
    /// Bytes dropped from the ends of truncated lines so far.
    public private(set) var discardedByteCount: Int = 0

    private var buffer: [UInt8] = []
    /// A CR seen at the end of the input so far, which is dropped if an LF follows.
    private var hasPendingCarriageReturn = false
    /// The current line was already returned truncated, so its bytes are dropped until the next LF.
    private var isDiscarding = false

    private static let lineFeed: UInt8 = 0x0A
    private static let carriageReturn: UInt8 = 0x0D

    /// Creates a splitter whose `maximumLineBytes` is at least 4, so that any UTF-8 character fits.
    public init(maximumLineBytes: Int, stripsCarriageReturn: Bool = true) {
        precondition(maximumLineBytes >= 4, "maximumLineBytes is \(maximumLineBytes); it must be at least 4 to hold one UTF-8 character")
        self.maximumLineBytes = maximumLineBytes
        self.stripsCarriageReturn = stripsCarriageReturn
        buffer.reserveCapacity(min(maximumLineBytes, 4096))
    }

    /// Feeds the next bytes of the stream and returns the lines they complete.
    public mutating func append(_ bytes: some BidirectionalCollection<UInt8>) -> [SplitLine] {
        var lines: [SplitLine] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            guard let newline = rest.firstIndex(of: Self.lineFeed) else {
                consume(rest, into: &lines)
                break
            }
            consume(rest[..<newline], into: &lines)
            endLine(into: &lines)
            rest = rest[rest.index(after: newline)...]
        }
        return lines
    }

    /// Feeds bytes of the current line that contain no LF, appending to `lines`
    /// a line that they make reach the maximum. It is `append` without the
    /// search for LF and without a new array per call, for input already cut at LF.
    mutating func appendPart(_ segment: some BidirectionalCollection<UInt8>, into lines: inout [SplitLine]) {
        consume(segment, into: &lines)
    }

    /// Feeds the last bytes of the current line, which contain no LF, and ends
    /// the line as an LF would, appending the lines returned to `lines`.
    mutating func appendLastPart(_ segment: some BidirectionalCollection<UInt8>, into lines: inout [SplitLine]) {
        consume(segment, into: &lines)
        endLine(into: &lines)
    }

    /// Ends the stream and returns the final line that had no newline, if any.
    public mutating func finish() -> SplitLine? {
        defer {
            buffer.removeAll(keepingCapacity: false)
            hasPendingCarriageReturn = false
            isDiscarding = false
        }
        if isDiscarding {
            return nil
        }

        // A CR at the very end is not followed by an LF, so it is part of the text.
        var isTruncated = false
        if hasPendingCarriageReturn {
            if buffer.count < maximumLineBytes {
                buffer.append(Self.carriageReturn)
            } else {
                isTruncated = true
                discardedByteCount += 1
            }
        }
        guard !buffer.isEmpty else { return nil }
        return makeLine(from: buffer, isTruncated: isTruncated, isUnterminated: true)
    }

    /// Adds bytes of the current line that contain no LF.
    private mutating func consume(_ segment: some BidirectionalCollection<UInt8>, into lines: inout [SplitLine]) {
        guard !segment.isEmpty else { return }
        if isDiscarding {
            discardedByteCount += segment.count
            return
        }
        guard stripsCarriageReturn else {
            appendContent(segment, into: &lines)
            return
        }

        // A CR held back from the previous segment turned out not to end the line.
        if hasPendingCarriageReturn {
            hasPendingCarriageReturn = false
            appendContent(CollectionOfOne(Self.carriageReturn), into: &lines)
            if isDiscarding {
                discardedByteCount += segment.count
                return
            }
        }
        if segment.last == Self.carriageReturn {
            appendContent(segment.dropLast(), into: &lines)
            if isDiscarding {
                discardedByteCount += 1
            } else {
                hasPendingCarriageReturn = true
            }
        } else {
            appendContent(segment, into: &lines)
        }
    }

    /// Appends line content, returning the line truncated when it reaches the maximum.
    private mutating func appendContent(_ content: some Collection<UInt8>, into lines: inout [SplitLine]) {
        let room = maximumLineBytes - buffer.count
        if content.count <= room {
            buffer.append(contentsOf: content)
            return
        }

        buffer.append(contentsOf: content.prefix(room))
        let keptCount = Self.lengthOfWholeCharacters(in: buffer)
        discardedByteCount += (buffer.count - keptCount) + (content.count - room)
        lines.append(makeLine(from: buffer[..<keptCount], isTruncated: true, isUnterminated: false))
        buffer.removeAll(keepingCapacity: true)
        isDiscarding = true
    }

    private mutating func endLine(into lines: inout [SplitLine]) {
        defer {
            buffer.removeAll(keepingCapacity: true)
            hasPendingCarriageReturn = false
        }
        if isDiscarding {
            isDiscarding = false
            return
        }
        // A pending CR directly before this LF is the CR of a CRLF and is dropped.
        lines.append(makeLine(from: buffer, isTruncated: false, isUnterminated: false))
    }

    private func makeLine(from bytes: some Collection<UInt8>, isTruncated: Bool, isUnterminated: Bool) -> SplitLine {
        if let text = String(validating: bytes, as: UTF8.self) {
            return SplitLine(text: text, isTruncated: isTruncated, isUnterminated: isUnterminated)
        }
        return SplitLine(
            text: String(decoding: bytes, as: UTF8.self),
            isTruncated: isTruncated, containsInvalidUTF8: true, isUnterminated: isUnterminated)
    }

    /// Returns the length of `bytes` without a multi-byte UTF-8 character cut off at its end.
    ///
    /// Only a well-formed lead byte whose sequence is incomplete is removed. Other
    /// invalid bytes stay, for the decoder to replace.
    static func lengthOfWholeCharacters(in bytes: [UInt8]) -> Int {
        let lowestIndex = max(bytes.count - 3, 0)
        var index = bytes.count - 1
        while index >= lowestIndex {
            let byte = bytes[index]
            if byte & 0b1100_0000 != 0b1000_0000 {
                let sequenceLength: Int
                switch byte {
                case 0xC2...0xDF: sequenceLength = 2
                case 0xE0...0xEF: sequenceLength = 3
                case 0xF0...0xF4: sequenceLength = 4
                default: sequenceLength = 1
                }
                return bytes.count - index < sequenceLength ? index : bytes.count
            }
            index -= 1
        }
        return bytes.count
    }
}

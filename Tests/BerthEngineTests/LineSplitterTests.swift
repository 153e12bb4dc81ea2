import Testing

@testable import BerthEngine

@Suite("LineSplitter")
struct LineSplitterTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var chunks: [[UInt8]]
        var maximumLineBytes = 16
        var stripsCarriageReturn = true
        var expected: [SplitLine]
        var expectedDiscarded = 0

        var testDescription: String { name }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let cases: [Case] = [
        Case(name: "one line", chunks: [bytes("hello\n")], expected: [SplitLine(text: "hello")]),
        Case(
            name: "two lines in one chunk", chunks: [bytes("a\nb\n")],
            expected: [SplitLine(text: "a"), SplitLine(text: "b")]),
        Case(
            name: "line split across chunks", chunks: [bytes("hel"), bytes("lo"), bytes("\nx\n")],
            expected: [SplitLine(text: "hello"), SplitLine(text: "x")]),
        Case(
            name: "empty lines are kept", chunks: [bytes("\n\na\n\n")],
            expected: [SplitLine(text: ""), SplitLine(text: ""), SplitLine(text: "a"), SplitLine(text: "")]),
        Case(
            name: "final line without newline", chunks: [bytes("a\nrest")],
            expected: [SplitLine(text: "a"), SplitLine(text: "rest", isUnterminated: true)]),
        Case(name: "no output at all", chunks: [], expected: []),
        Case(name: "empty chunks", chunks: [[], [], []], expected: []),
        Case(
            name: "CRLF is stripped", chunks: [bytes("a\r\nb\r\n")],
            expected: [SplitLine(text: "a"), SplitLine(text: "b")]),
        Case(
            name: "CRLF split across chunks", chunks: [bytes("a\r"), bytes("\nb\r"), bytes("c\n")],
            expected: [SplitLine(text: "a"), SplitLine(text: "b\rc")]),
        Case(
            name: "lone CR is kept", chunks: [bytes("a\rb\n\r\r\n")],
            expected: [SplitLine(text: "a\rb"), SplitLine(text: "\r")]),
        Case(
            name: "CR at end of stream is kept", chunks: [bytes("a\r")],
            expected: [SplitLine(text: "a\r", isUnterminated: true)]),
        Case(
            name: "CRLF kept when stripping is off", chunks: [bytes("a\r\n")], stripsCarriageReturn: false,
            expected: [SplitLine(text: "a\r")]),
        Case(
            name: "line of exactly the maximum", chunks: [bytes("0123456789abcdef\nx\n")],
            expected: [SplitLine(text: "0123456789abcdef"), SplitLine(text: "x")]),
        Case(
            name: "line of the maximum with CRLF", chunks: [bytes("0123456789abcdef\r\n")],
            expected: [SplitLine(text: "0123456789abcdef")]),
        Case(
            name: "long line is cut and the rest discarded",
            chunks: [bytes("0123456789abcdefXYZ\nnext\n")],
            expected: [SplitLine(text: "0123456789abcdef", isTruncated: true), SplitLine(text: "next")],
            expectedDiscarded: 3),
        Case(
            name: "long line over many chunks",
            chunks: [bytes("0123456789"), bytes("abcdefghij"), bytes("klmnop"), bytes("qr\nok\n")],
            expected: [SplitLine(text: "0123456789abcdef", isTruncated: true), SplitLine(text: "ok")],
            expectedDiscarded: 12),
        Case(
            name: "long line at end of stream",
            chunks: [bytes("0123456789abcdefgh")],
            expected: [SplitLine(text: "0123456789abcdef", isTruncated: true)],
            expectedDiscarded: 2),
        Case(
            name: "cut keeps whole UTF-8 characters",
            chunks: [bytes("0123456789abcd\u{00E9}\u{00E9}\n")],
            expected: [SplitLine(text: "0123456789abcd\u{00E9}", isTruncated: true)],
            expectedDiscarded: 2),
        Case(
            name: "cut inside a four-byte character",
            chunks: [bytes("0123456789abcde\u{1F600}\n")],
            expected: [SplitLine(text: "0123456789abcde", isTruncated: true)],
            expectedDiscarded: 4),
        Case(
            name: "invalid UTF-8 is replaced and marked",
            chunks: [[0x61, 0xFF, 0xFE, 0x62, 0x0A]],
            expected: [SplitLine(text: "a\u{FFFD}\u{FFFD}b", containsInvalidUTF8: true)]),
        Case(
            name: "character split across chunks stays valid",
            chunks: [[0x61, 0xC3], [0xA9, 0x0A]],
            expected: [SplitLine(text: "a\u{00E9}")]),
        Case(
            name: "truncated sequence at end of stream",
            chunks: [[0x61, 0xE2, 0x82]],
            expected: [SplitLine(text: "a\u{FFFD}", containsInvalidUTF8: true, isUnterminated: true)]),
    ]

    @Test("splitting", arguments: cases)
    func splitting(_ testCase: Case) {
        var splitter = LineSplitter(
            maximumLineBytes: testCase.maximumLineBytes, stripsCarriageReturn: testCase.stripsCarriageReturn)
        var lines: [SplitLine] = []
        for chunk in testCase.chunks {
            lines += splitter.append(chunk)
        }
        if let last = splitter.finish() {
            lines.append(last)
        }

        #expect(lines == testCase.expected)
        #expect(splitter.discardedByteCount == testCase.expectedDiscarded)
    }

    @Test("same lines whatever the chunk size")
    func chunkSizeDoesNotMatter() {
        let input = Self.bytes("first\r\nsecond line that is much too long\n\nthird \u{00E9}\u{1F600}\nlast")
        var reference = LineSplitter(maximumLineBytes: 12)
        let expected = reference.append(input) + [reference.finish()].compactMap { $0 }

        for chunkSize in 1...input.count {
            var splitter = LineSplitter(maximumLineBytes: 12)
            var lines: [SplitLine] = []
            var start = 0
            while start < input.count {
                let end = min(start + chunkSize, input.count)
                lines += splitter.append(input[start..<end])
                start = end
            }
            if let last = splitter.finish() {
                lines.append(last)
            }
            #expect(lines == expected, "chunk size \(chunkSize)")
        }
    }

    @Test("memory stays bounded on an endless line")
    func boundedMemory() {
        var splitter = LineSplitter(maximumLineBytes: 1024)
        let chunk = [UInt8](repeating: 0x78, count: 64 * 1024)
        var lines: [SplitLine] = []
        for _ in 0..<64 {
            lines += splitter.append(chunk)
        }

        #expect(lines.count == 1)
        #expect(lines.first?.text.utf8.count == 1024)
        #expect(lines.first?.isTruncated == true)
        #expect(splitter.discardedByteCount == 64 * 64 * 1024 - 1024)
        #expect(splitter.finish() == nil)
    }
}

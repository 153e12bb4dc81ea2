import Foundation
import Synchronization
import Testing

@testable import BerthEngine

@Suite("ContainerLogFile")
struct ContainerLogFileTests {
    static let time = "2026-12-04T22:00:00.123456789+00:00"

    static func record(_ stream: String, _ tag: String, _ content: String) -> String {
        "\(time) \(stream) \(tag) \(content)\n"
    }

    /// Parses `text` fed in chunks of `chunkSize` bytes, then finishes.
    static func parse(_ text: String, chunkSize: Int = 7, maximumLineBytes: Int = 64) -> (lines: [OutputLine], invalid: Int) {
        var parser = KubernetesLogParser(maximumLineBytes: maximumLineBytes)
        var lines: [OutputLine] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let end = min(start + chunkSize, bytes.count)
            parser.append(bytes[start..<end]) { lines.append($0) }
            start = end
        }
        parser.finish { lines.append($0) }
        return (lines, parser.invalidRecordCount)
    }

    @Test("full records of both streams")
    func fullRecords() {
        let text = Self.record("stdout", "F", #"{"type":"a"}"#) + Self.record("stderr", "F", "warning")
            + Self.record("stdout", "F", "") + Self.record("stdout", "F", "two  spaces ")
        let (lines, invalid) = Self.parse(text)

        #expect(invalid == 0)
        #expect(lines.map(\.stream) == [.standardOutput, .standardError, .standardOutput, .standardOutput])
        #expect(lines.map(\.text) == [#"{"type":"a"}"#, "warning", "", "two  spaces "])
        #expect(lines.allSatisfy { !$0.line.isTruncated })
        #expect(lines.allSatisfy { !$0.line.isUnterminated })
    }

    @Test("partial records join per stream")
    func partialRecords() {
        let text = Self.record("stdout", "P", "abc") + Self.record("stderr", "P", "x")
            + Self.record("stdout", "P", "def") + Self.record("stderr", "F", "y") + Self.record("stdout", "F", "ghi")
        let (lines, _) = Self.parse(text, chunkSize: 3)

        #expect(lines.map(\.text) == ["xy", "abcdefghi"])
        #expect(lines.map(\.stream) == [.standardError, .standardOutput])
    }

    @Test("long line is truncated across parts")
    func truncatedAcrossParts() {
        let part = String(repeating: "a", count: 40)
        let text = Self.record("stdout", "P", part) + Self.record("stdout", "F", part) + Self.record("stdout", "F", "next")
        let (lines, _) = Self.parse(text, maximumLineBytes: 64)

        #expect(lines.count == 2)
        #expect(lines.first?.text == String(repeating: "a", count: 64))
        #expect(lines.first?.line.isTruncated == true)
        #expect(lines.last?.text == "next")
    }

    @Test("last partial record ends unterminated")
    func unterminatedTail() {
        let text = Self.record("stdout", "F", "one") + Self.record("stdout", "P", "tail")
        let (lines, _) = Self.parse(text)

        #expect(lines.map(\.text) == ["one", "tail"])
        #expect(lines.last?.line.isUnterminated == true)
    }

    @Test("CRLF and invalid UTF-8 as on a pipe")
    func carriageReturnAndInvalidBytes() {
        var bytes = Array(Self.record("stdout", "F", "crlf\r").utf8)
        bytes += Array("\(Self.time) stdout F bad ".utf8) + [0xFF, 0xFE] + [0x0A]
        var parser = KubernetesLogParser(maximumLineBytes: 64)
        var lines: [OutputLine] = []
        parser.append(bytes[...]) { lines.append($0) }

        #expect(lines.map(\.text) == ["crlf", "bad \u{FFFD}\u{FFFD}"])
        #expect(lines.last?.line.containsInvalidUTF8 == true)
    }

    @Test("records of another format are skipped")
    func invalidRecords() {
        let text = "garbage\n" + "\(Self.time) stdin F x\n" + "\(Self.time) stdout X y\n" + Self.record("stdout", "F", "kept")
        let (lines, invalid) = Self.parse(text)

        #expect(lines.map(\.text) == ["kept"])
        #expect(invalid == 3)
    }

    @Test("follow reads what is appended until the exit")
    func followUntilExit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("output.log").path
        FileManager.default.createFile(atPath: path, contents: Data(Self.record("stdout", "F", "first").utf8))

        let file = ContainerLogFile(path: path, maximumLineBytes: 1024)
        let lines = Mutex<[String]>([])
        let reader = Task {
            try await file.follow { line in lines.withLock { $0.append(line.text) } }
        }

        // Appended while the reader waits at the end of the file, then the
        // exit is reported at once after the last write.
        try await Task.sleep(for: .milliseconds(200))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        for index in 1...1000 {
            handle.write(Data(Self.record("stdout", "F", "line \(index)").utf8))
        }
        handle.write(Data(Self.record("stderr", "P", "no newline").utf8))
        try handle.close()
        file.containerExited()
        try await reader.value

        let texts = lines.withLock { $0 }
        #expect(texts.count == 1002)
        #expect(texts.first == "first")
        #expect(texts.dropFirst().first == "line 1")
        #expect(texts.dropLast().last == "line 1000")
        #expect(texts.last == "no newline")
    }

    @Test("follow of a missing file throws")
    func missingFile() async {
        let file = ContainerLogFile(path: "/nonexistent/berth/output.log")
        await #expect(throws: ContainerEngineError.self) {
            try await file.follow { _ in }
        }
    }

    @Test("cancelled follow throws CancellationError")
    func cancelled() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("berth-log-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: path, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: path) }

        let file = ContainerLogFile(path: path)
        let reader = Task { try await file.follow { _ in } }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        await #expect(throws: CancellationError.self) { try await reader.value }
    }
}

import BerthStore
import Testing

@testable import BerthDaemon

@Suite struct OutputRecorderTests {
    private func record(_ lines: [(StoredLine.Stream, String)], maxStoredBytes: Int64 = 1 << 20) -> (OutputRecorder, [StoredLine]) {
        var recorder = OutputRecorder(maxStoredBytes: maxStoredBytes, batchLines: 1000)
        for (stream, text) in lines {
            recorder.append(stream: stream, text: text, truncated: false, at: 1000)
        }
        return (recorder, recorder.takeBatch())
    }

    @Test func jsonObjectKeepsItsType() throws {
        let (_, batch) = record([(.stdout, #"{"type":"step","n":1}"#)])
        let line = try #require(batch.first)
        #expect(line.isJSON)
        #expect(line.type == "step")
        #expect(line.sequence == 1)
        #expect(line.at == 1000)
    }

    @Test func jsonObjectWithoutTypeHasNone() throws {
        let (_, batch) = record([(.stdout, #"{"event":"tick","n":1}"#)])
        let line = try #require(batch.first)
        #expect(line.isJSON)
        #expect(line.type == nil)
    }

    @Test func leadingWhitespaceBeforeObject() throws {
        let (_, batch) = record([(.stdout, " \t{\"type\":\"step\"}")])
        #expect(try #require(batch.first).type == "step")
    }

    @Test(arguments: [
        "plain text",
        "[1,2,3]",
        "{not json",
        #"{"type":"step""#,
        "42",
        "",
    ])
    func otherLinesAreStoredAsText(text: String) throws {
        let (_, batch) = record([(.stdout, text)])
        let line = try #require(batch.first)
        #expect(!line.isJSON)
        #expect(line.type == nil)
        #expect(line.text == text)
    }

    @Test func nonStringTypeIsIgnored() throws {
        let (_, batch) = record([(.stdout, #"{"type":7}"#)])
        let line = try #require(batch.first)
        #expect(line.isJSON)
        #expect(line.type == nil)
    }

    @Test func standardErrorIsNeverParsed() throws {
        let (_, batch) = record([(.stderr, #"{"type":"step"}"#)])
        let line = try #require(batch.first)
        #expect(!line.isJSON)
        #expect(line.type == nil)
    }

    @Test func truncatedLineIsNotParsed() throws {
        var recorder = OutputRecorder(maxStoredBytes: 1 << 20, batchLines: 10)
        recorder.append(stream: .stdout, text: #"{"type":"step"}"#, truncated: true, at: 1)
        let line = try #require(recorder.takeBatch().first)
        #expect(line.truncated)
        #expect(!line.isJSON)
        #expect(line.type == nil)
    }

    @Test func streamsAreNumberedSeparately() {
        let (_, batch) = record([(.stdout, "a"), (.stderr, "b"), (.stdout, "c"), (.stderr, "d"), (.stderr, "e")])
        #expect(batch.filter { $0.stream == .stdout }.map(\.sequence) == [1, 2])
        #expect(batch.filter { $0.stream == .stderr }.map(\.sequence) == [1, 2, 3])
    }

    @Test func capCountsLinesAndReportsOnce() throws {
        // Ten bytes a line: the first two fit in 25 bytes, the third does not.
        let lines = (1...6).map { (StoredLine.Stream.stdout, String(format: "line-%05d", $0)) }
        let (recorder, batch) = record(lines, maxStoredBytes: 25)

        #expect(batch.map(\.text).prefix(2) == ["line-00001", "line-00002"])
        #expect(batch.count == 3)
        let notice = try #require(batch.last)
        #expect(notice.type == OutputRecorder.limitEventType)
        #expect(notice.isJSON)
        #expect(notice.sequence == 3)
        #expect(notice.text == #"{"type":"berth.output_limit","maxOutputBytes":25,"firstDroppedSequence":3}"#)
        #expect(recorder.storedBytes == 20)
        #expect(recorder.droppedLines == 4)
    }

    @Test func lineThatFitsAfterTheCapIsStillDropped() {
        // Once a stream passed its cap, shorter lines that would fit are dropped too,
        // or a reader would see a gap in the middle of the stream.
        let (recorder, batch) = record([(.stdout, "0123456789"), (.stdout, "0123456789"), (.stdout, "x")], maxStoredBytes: 15)
        #expect(batch.map(\.sequence) == [1, 2])
        #expect(recorder.droppedLines == 2)
    }

    @Test func eachStreamHasItsOwnCap() throws {
        let (recorder, batch) = record(
            [(.stdout, "0123456789"), (.stdout, "0123456789"), (.stderr, "0123456789"), (.stderr, "0123456789")],
            maxStoredBytes: 10)
        let stderrNotice = try #require(batch.last { $0.stream == .stderr })
        #expect(stderrNotice.sequence == 2)
        #expect(!stderrNotice.isJSON)
        #expect(stderrNotice.text.contains("limit of 10 stored bytes"))
        #expect(batch.filter { $0.type == OutputRecorder.limitEventType }.count == 1)
        #expect(recorder.storedBytes == 20)
        #expect(recorder.droppedLines == 2)
    }

    @Test func batchFillsAtBatchLines() {
        var recorder = OutputRecorder(maxStoredBytes: 1 << 20, batchLines: 3)
        recorder.append(stream: .stdout, text: "a", truncated: false, at: 1)
        recorder.append(stream: .stdout, text: "b", truncated: false, at: 1)
        #expect(!recorder.batchIsFull)
        recorder.append(stream: .stderr, text: "c", truncated: false, at: 1)
        #expect(recorder.batchIsFull)

        #expect(recorder.takeBatch().count == 3)
        #expect(!recorder.hasPending)
        #expect(!recorder.batchIsFull)
        #expect(recorder.takeBatch().isEmpty)
    }

    @Test func readerMustWaitAfterSeveralFullBatches() {
        var recorder = OutputRecorder(maxStoredBytes: 1 << 20, batchLines: 3)
        for _ in 1..<(3 * OutputRecorder.gatheredBatches) {
            recorder.append(stream: .stdout, text: "a", truncated: false, at: 1)
        }
        #expect(recorder.batchIsFull)
        #expect(!recorder.mustWait)

        recorder.append(stream: .stdout, text: "a", truncated: false, at: 1)
        #expect(recorder.mustWait)
        _ = recorder.takeBatch()
        #expect(!recorder.mustWait)
    }

    @Test func sequencesContinueAcrossBatches() {
        var recorder = OutputRecorder(maxStoredBytes: 1 << 20, batchLines: 10)
        recorder.append(stream: .stdout, text: "a", truncated: false, at: 1)
        _ = recorder.takeBatch()
        recorder.append(stream: .stdout, text: "b", truncated: false, at: 2)
        #expect(recorder.takeBatch().map(\.sequence) == [2])
    }
}

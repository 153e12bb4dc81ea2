import BerthCore
import BerthStore
import Foundation

/// Turns the lines of one attempt's output into rows to store, in batches, and
/// enforces the cap on stored bytes.
///
/// Standard output and standard error are numbered and capped separately:
/// the two pipes are read concurrently, so their interleaving differs from one
/// reading to the next, while each stream on its own is read the same way
/// every time. Every line gets the next sequence number of its stream, stored
/// or not, so reading a stream again after a restart yields the same numbers
/// and the store's unique key drops the repeats.
///
/// Lines arrive already decoded, with U+FFFD in place of bytes that are not
/// valid UTF-8 (see `LineSplitter`). Not thread-safe;
/// `OutputPump` serializes access.
struct OutputRecorder {
    /// The `type` of the event stored in place of the first line over the cap.
    static let limitEventType = "berth.output_limit"

    private struct StreamState {
        var nextSequence: Int64 = 1
        var storedBytes: Int64 = 0
        var droppedLines: Int64 = 0
        var limitReported = false
    }

    let maxStoredBytes: Int64
    let batchLines: Int

    /// The state of each stream, in two fields because a dictionary lookup per line was measurable.
    private struct StreamStates {
        var standardOutput = StreamState()
        var standardError = StreamState()

        subscript(stream: StoredLine.Stream) -> StreamState {
            get { stream == .stdout ? standardOutput : standardError }
            set {
                if stream == .stdout { standardOutput = newValue } else { standardError = newValue }
            }
        }
    }

    private var streams = StreamStates()
    private var pending: [StoredLine] = []
    private var pendingBytes = 0

    init(maxStoredBytes: Int64, batchLines: Int) {
        self.maxStoredBytes = maxStoredBytes
        self.batchLines = batchLines
    }

    var storedBytes: Int64 { streams.standardOutput.storedBytes + streams.standardError.storedBytes }
    var droppedLines: Int64 { streams.standardOutput.droppedLines + streams.standardError.droppedLines }
    var hasPending: Bool { !pending.isEmpty }

    /// Whether the pending batch is large enough to write now.
    var batchIsFull: Bool { pending.count >= batchLines || pendingBytes >= 4 << 20 }

    /// How many full batches may gather while the previous one is written.
    static let gatheredBatches = 8

    /// Whether so much has gathered that the reader must wait for the writer.
    /// Beside the batch being written, this bounds memory to about 8 MiB of
    /// lines, or `gatheredBatches` times `batchLines` lines.
    var mustWait: Bool { pending.count >= batchLines * Self.gatheredBatches || pendingBytes >= 8 << 20 }

    /// Adds one line, given without its newline.
    /// Lines per stream that an earlier reading of the same output already
    /// handled; they advance the numbering and the cap but are not stored again.
    var alreadyHandled: [StoredLine.Stream: Int64] = [:]

    /// Lines of each stream seen so far, stored or not.
    func linesSeen(_ stream: StoredLine.Stream) -> Int64 { streams[stream].nextSequence - 1 }

    mutating func append(stream: StoredLine.Stream, text: String, truncated: Bool, at now: Int64) {
        var state = streams[stream]
        defer { streams[stream] = state }
        let sequence = state.nextSequence
        state.nextSequence += 1
        let handled = !alreadyHandled.isEmpty && sequence <= alreadyHandled[stream, default: 0]

        // After the first dropped line every later line of the stream is
        // dropped too, as the limit notice says, even one short enough to fit.
        let size = Int64(text.utf8.count)
        guard !state.limitReported, state.storedBytes + size <= maxStoredBytes else {
            state.droppedLines += 1
            if !state.limitReported {
                state.limitReported = true
                if !handled { appendLimitNotice(stream: stream, sequence: sequence, at: now) }
            }
            return
        }
        state.storedBytes += size
        guard !handled else { return }

        var type: String? = nil
        var isJSON = false
        if stream == .stdout, !truncated, Self.looksLikeObject(text) {
            if let object = JSONObjectScanner.scan(text) {
                assert(
                    (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]).map { $0["type"] as? String }
                        == .some(object.type),
                    "JSONObjectScanner and JSONSerialization disagree on \(text)")
                isJSON = true
                type = object.type
            } else if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
                isJSON = true
                type = object["type"] as? String
            }
        }
        pending.append(StoredLine(stream: stream, sequence: sequence, at: now, type: type, isJSON: isJSON, truncated: truncated, text: text))
        pendingBytes += Int(size)
    }

    private mutating func appendLimitNotice(stream: StoredLine.Stream, sequence: Int64, at now: Int64) {
        let text: String
        switch stream {
        case .stdout:
            text = #"{"type":"\#(Self.limitEventType)","maxOutputBytes":\#(maxStoredBytes),"firstDroppedSequence":\#(sequence)}"#
        case .stderr:
            text = "berth: standard error reached its limit of \(maxStoredBytes) stored bytes; later lines are counted, not stored"
        }
        pending.append(StoredLine(
            stream: stream, sequence: sequence, at: now, type: stream == .stdout ? Self.limitEventType : nil,
            isJSON: stream == .stdout, truncated: false, text: text))
    }

    private static func looksLikeObject(_ text: String) -> Bool {
        text.utf8.first { $0 != 0x20 && $0 != 0x09 } == UInt8(ascii: "{")
    }

    /// Removes and returns the pending lines.
    mutating func takeBatch() -> [StoredLine] {
        defer {
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }
        return pending
    }
}

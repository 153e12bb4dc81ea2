import BerthCore
import BerthStore
import Dispatch
import Foundation
import Synchronization

/// Decodes, validates and encodes the lines of a batch file in the
/// background, in parts on every core, because this is most of the CPU time
/// of a large batch. The parts are handed out in file order as each is ready,
/// so the first ones can be stored while later ones are still decoded.
final class BatchDecoder: Sendable {
    /// The specs of some lines of a batch file with their canonical JSON, and the problems of each invalid line.
    struct Part: Sendable {
        var specs: [EncodedSpec] = []
        /// The file's line number of each spec, from 1.
        var lineNumbers: [Int] = []
        /// The problems of each invalid line, in line order, each as `SOURCE:LINE: message`.
        var invalidLines: [[String]] = []

        mutating func append(_ other: Part) {
            specs += other.specs
            lineNumbers += other.lineNumbers
            invalidLines += other.invalidLines
        }
    }

    /// Lines per part: large enough that handing a part over costs little,
    /// small enough that the first part is ready soon.
    static let linesPerPart = 2_000

    let partCount: Int
    private let parts: Mutex<[Part?]>
    private let ready: [DispatchSemaphore]

    /// Starts decoding `lines` at once. Blank lines are skipped, and a line may end with a carriage return.
    init(lines: [Data], source: String, hold: Bool) {
        let partCount = max(1, (lines.count + Self.linesPerPart - 1) / Self.linesPerPart)
        self.partCount = partCount
        parts = Mutex([Part?](repeating: nil, count: partCount))
        ready = (0..<partCount).map { _ in DispatchSemaphore(value: 0) }

        // One core is left to the caller, which stores the parts as they come.
        let workers = max(1, min(partCount, ProcessInfo.processInfo.activeProcessorCount - 1))
        let nextPart = Atomic(0)
        DispatchQueue.global().async { [self] in
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                // Each worker takes the next part in file order, so the parts finish about in that order.
                while true {
                    let index = nextPart.add(1, ordering: .relaxed).oldValue
                    guard index < partCount else { return }
                    let start = index * Self.linesPerPart
                    let range = start..<min(start + Self.linesPerPart, lines.count)
                    let part = Self.decode(lines[range], firstLineNumber: start + 1, source: source, hold: hold)
                    parts.withLock { $0[index] = part }
                    ready[index].signal()
                }
            }
        }
    }

    /// Returns part `index`, waiting until it is decoded.
    func part(_ index: Int) -> Part {
        ready[index].wait()
        // Signalled again, so that a later call for the same part does not wait.
        ready[index].signal()
        return parts.withLock { $0[index]! }
    }

    /// Returns every part joined in file order, waiting until all are decoded.
    func all() -> Part {
        var joined = Part()
        for index in 0..<partCount {
            joined.append(part(index))
        }
        return joined
    }

    private static func decode(_ lines: ArraySlice<Data>, firstLineNumber: Int, source: String, hold: Bool) -> Part {
        var part = Part()
        for (offset, line) in lines.enumerated() {
            let lineNumber = firstLineNumber + offset
            let trimmed = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            if trimmed.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            do {
                var spec = try JobSpec.decode(json: Data(trimmed))
                if hold { spec.hold = true }
                part.specs.append(EncodedSpec(spec))
                part.lineNumbers.append(lineNumber)
            } catch {
                part.invalidLines.append(error.allProblems.map { "\(source):\(lineNumber): \($0)" })
            }
        }
        return part
    }
}

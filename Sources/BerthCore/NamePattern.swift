/// A pattern of the form `^[FIRST][REST]{0,N}$` whose two bracket classes list
/// ASCII characters and ranges, as berth writes its name rules.
///
/// Matching is a byte loop instead of a regular expression: Foundation
/// compiles a regular expression on every call, and its engine (ICU) would
/// otherwise be loaded into every process that checks a name.
public struct NamePattern: Sendable {
    private var first = ASCIISet()
    private var rest = ASCIISet()
    private var maxRest = 0

    /// Parses `pattern`; nil when it has any other form.
    public init?(_ pattern: String) {
        var bytes = Array(pattern.utf8)[...]
        guard bytes.popFirst() == UInt8(ascii: "^"),
              let first = Self.parseClass(&bytes),
              let rest = Self.parseClass(&bytes),
              bytes.starts(with: "{0,".utf8), bytes.last == UInt8(ascii: "$")
        else { return nil }
        let count = bytes.dropFirst(3).dropLast().prefix { $0 != UInt8(ascii: "}") }
        guard let maxRest = Int(String(decoding: count, as: UTF8.self)),
              bytes.count == 3 + count.count + 2, bytes.dropLast().last == UInt8(ascii: "}")
        else { return nil }
        self.first = first
        self.rest = rest
        self.maxRest = maxRest
    }

    /// Returns whether `value` is one byte of the first class followed by at
    /// most `maxRest` bytes of the second. Such a value has no NUL and no newline.
    public func matches(_ value: String) -> Bool {
        let bytes = value.utf8
        guard let head = bytes.first, bytes.count - 1 <= maxRest, first.contains(head) else { return false }
        return bytes.dropFirst().allSatisfy { rest.contains($0) }
    }

    /// Parses `[…]` of literal ASCII characters and `a-z` ranges; a `-` before
    /// the closing bracket is literal.
    private static func parseClass(_ bytes: inout ArraySlice<UInt8>) -> ASCIISet? {
        guard bytes.popFirst() == UInt8(ascii: "[") else { return nil }
        var set = ASCIISet()
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "]"):
                return set
            case UInt8(ascii: "\\"), UInt8(ascii: "^"), UInt8(ascii: "["), 0x80...:
                return nil
            default:
                if bytes.first == UInt8(ascii: "-"), bytes.count >= 2, bytes[bytes.startIndex + 1] != UInt8(ascii: "]") {
                    let upper = bytes[bytes.startIndex + 1]
                    guard upper >= byte, upper < 0x80 else { return nil }
                    bytes.removeFirst(2)
                    for member in byte...upper { set.insert(member) }
                } else {
                    set.insert(byte)
                }
            }
        }
        return nil
    }
}

/// A set of ASCII bytes as a 128-bit mask.
private struct ASCIISet: Sendable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    mutating func insert(_ byte: UInt8) {
        if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
    }

    func contains(_ byte: UInt8) -> Bool {
        if byte < 64 { return low & (1 << UInt64(byte)) != 0 }
        return byte < 128 && high & (1 << UInt64(byte - 64)) != 0
    }
}

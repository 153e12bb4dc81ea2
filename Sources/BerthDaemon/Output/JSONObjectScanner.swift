/// A quick check that a line is a JSON object, and its top-level `type`,
/// without building the object.
///
/// JSONSerialization took about 40% of the daemon's time per stored event.
/// The scanner accepts only a strict subset of JSON where JSONSerialization
/// accepts too: ASCII keys without escapes and none repeated, strings with the
/// short escapes, numbers of at most 15 characters without an exponent, and at
/// most 16 levels of nesting. For any other line it returns nil, and the caller
/// decides with JSONSerialization as before, so every verdict stays the same.
enum JSONObjectScanner {
    /// The verdict for a line that is certainly a JSON object.
    struct Object: Equatable {
        /// The top-level `type` when it is a string; nil when it is missing or another kind of value.
        var type: String?
    }

    /// Returns the object's `type`, or nil when JSONSerialization must decide.
    static func scan(_ text: String) -> Object? {
        var text = text
        return text.withUTF8 { bytes in
            var scanner = Scanner(bytes: bytes)
            return scanner.scanLine()
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        mutating func scanLine() -> Object? {
            skipWhitespace()
            var type: String? = nil
            guard scanObject(depth: 1, type: &type) else { return nil }
            skipWhitespace()
            return position == bytes.count ? Object(type: type) : nil
        }

        /// Scans `{…}`; at depth 1 it also reads the `type` member.
        private mutating func scanObject(depth: Int, type: inout String?) -> Bool {
            guard depth <= 16, consume(UInt8(ascii: "{")) else { return false }
            skipWhitespace()
            if consume(UInt8(ascii: "}")) { return true }
            var keys: [Range<Int>] = []
            while true {
                guard let key = scanKey(), !keys.contains(where: { same($0, key) }) else { return false }
                keys.append(key)
                skipWhitespace()
                guard consume(UInt8(ascii: ":")) else { return false }
                skipWhitespace()
                if depth == 1, isTypeKey(key), peek() == UInt8(ascii: "\"") {
                    guard let value = scanString(decode: true) else { return false }
                    type = value
                } else {
                    guard scanValue(depth: depth) else { return false }
                }
                skipWhitespace()
                if consume(UInt8(ascii: "}")) { return true }
                guard consume(UInt8(ascii: ",")) else { return false }
                skipWhitespace()
            }
        }

        private mutating func scanArray(depth: Int) -> Bool {
            guard depth <= 16, consume(UInt8(ascii: "[")) else { return false }
            skipWhitespace()
            if consume(UInt8(ascii: "]")) { return true }
            while true {
                guard scanValue(depth: depth) else { return false }
                skipWhitespace()
                if consume(UInt8(ascii: "]")) { return true }
                guard consume(UInt8(ascii: ",")) else { return false }
                skipWhitespace()
            }
        }

        private mutating func scanValue(depth: Int) -> Bool {
            switch peek() {
            case UInt8(ascii: "\""):
                return scanString(decode: false) != nil
            case UInt8(ascii: "{"):
                var ignored: String? = nil
                return scanObject(depth: depth + 1, type: &ignored)
            case UInt8(ascii: "["):
                return scanArray(depth: depth + 1)
            case UInt8(ascii: "t"):
                return consume("true")
            case UInt8(ascii: "f"):
                return consume("false")
            case UInt8(ascii: "n"):
                return consume("null")
            default:
                return scanNumber()
            }
        }

        /// Scans a key of printable ASCII without escapes and returns its bytes' range.
        private mutating func scanKey() -> Range<Int>? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            let start = position
            while let byte = peek(), byte != UInt8(ascii: "\"") {
                guard byte >= 0x20, byte < 0x7f, byte != UInt8(ascii: "\\") else { return nil }
                position += 1
            }
            guard consume(UInt8(ascii: "\"")) else { return nil }
            return start..<(position - 1)
        }

        /// Scans a string with the short escapes; returns its text when `decode`
        /// is set, else an empty string. Nil for `\u`, a control character or an unterminated string.
        private mutating func scanString(decode: Bool) -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            var decoded: [UInt8] = []
            while let byte = peek() {
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return decode ? String(decoding: decoded, as: UTF8.self) : ""
                case UInt8(ascii: "\\"):
                    guard let escaped = peek(), let replacement = Self.shortEscapes[escaped] else { return nil }
                    position += 1
                    if decode { decoded.append(replacement) }
                case 0..<0x20:
                    return nil
                default:
                    if decode { decoded.append(byte) }
                }
            }
            return nil
        }

        private static let shortEscapes: [UInt8: UInt8] = [
            UInt8(ascii: "\""): UInt8(ascii: "\""), UInt8(ascii: "\\"): UInt8(ascii: "\\"), UInt8(ascii: "/"): UInt8(ascii: "/"),
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0c, UInt8(ascii: "n"): 0x0a, UInt8(ascii: "r"): 0x0d, UInt8(ascii: "t"): 0x09,
        ]

        /// Scans `-?(0|[1-9][0-9]*)(\.[0-9]+)?` of at most 15 characters.
        private mutating func scanNumber() -> Bool {
            let start = position
            _ = consume(UInt8(ascii: "-"))
            guard let first = peek(), isDigit(first) else { return false }
            position += 1
            if first != UInt8(ascii: "0") {
                while let byte = peek(), isDigit(byte) { position += 1 }
            }
            if consume(UInt8(ascii: ".")) {
                guard let byte = peek(), isDigit(byte) else { return false }
                while let byte = peek(), isDigit(byte) { position += 1 }
            }
            return position - start <= 15
        }

        private func isDigit(_ byte: UInt8) -> Bool {
            byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
        }

        private func isTypeKey(_ key: Range<Int>) -> Bool {
            key.count == 4 && bytes[key.lowerBound] == UInt8(ascii: "t") && bytes[key.lowerBound + 1] == UInt8(ascii: "y")
                && bytes[key.lowerBound + 2] == UInt8(ascii: "p") && bytes[key.lowerBound + 3] == UInt8(ascii: "e")
        }

        private func same(_ first: Range<Int>, _ second: Range<Int>) -> Bool {
            first.count == second.count && zip(first, second).allSatisfy { bytes[$0] == bytes[$1] }
        }

        private func peek() -> UInt8? {
            position < bytes.count ? bytes[position] : nil
        }

        private mutating func consume(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            position += 1
            return true
        }

        private mutating func consume(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard position + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[position + offset] != literal.utf8Start[offset] {
                return false
            }
            position += count
            return true
        }

        /// Skips JSON's whitespace: space, tab, line feed and carriage return.
        private mutating func skipWhitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d {
                position += 1
            }
        }
    }
}

import Foundation

/// Finds where a JSON5 text stops being valid, and where each key is, for error messages.
///
/// Foundation's JSON and JSON5 readers report only that a text is invalid, and
/// their values carry no positions, but an operator with a long configuration
/// file or job spec needs the line and column. This checks the syntax alone and
/// builds no values. It runs only on texts that a reader rejected or found
/// unusual. Job specs are checked as plain JSON, which names the JSON5 syntax
/// that a spec may not use.
public struct JSON5SyntaxLocator {
    /// The syntax a text is checked against.
    public enum Syntax: Sendable {
        /// JSON5, as Foundation's reader accepts it with `allowsJSON5`.
        case json5
        /// JSON as RFC 8259 defines it: no comments, single quotes, unquoted
        /// keys, JSON5 numbers or trailing commas. Foundation's reader without
        /// JSON5 accepts a trailing comma (Swift 6.3), which this rejects.
        /// A UTF-8 byte order mark before the text is skipped.
        case json
    }

    /// The first syntax error: a 1-based line and column, and what was expected.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let column: Int
        public let message: String

        public var description: String { "line \(line), column \(column): \(message)" }
    }

    private let bytes: [UInt8]
    private let syntax: Syntax
    /// The name of the end of the text in messages, such as "the end of the file".
    private let endName: String
    private var position = 0
    /// The key path of the value being read.
    private var path = JSONKeyPath()
    /// The offset of each key, and of each array element, seen so far.
    private var offsets: [JSONKeyPath: Int] = [:]
    /// Keys that appeared again in the same object, with the offset of the repeat.
    private var repeats: [(path: JSONKeyPath, offset: Int)] = []
    /// Whether the value being read belongs to a repeated key, whose own keys
    /// repeat those of the first value and are not listed again.
    private var insideRepeat = false

    private init(_ bytes: [UInt8], syntax: Syntax = .json5, endName: String = "the end of the file") {
        self.bytes = bytes
        self.syntax = syntax
        self.endName = endName
    }

    /// Returns the first syntax error in `bytes`, or nil when the syntax is valid.
    /// `endName` names the end of the text in messages.
    public static func firstProblem(
        in bytes: [UInt8], syntax: Syntax = .json5, endName: String = "the end of the file"
    ) -> Problem? {
        var locator = JSON5SyntaxLocator(bytes, syntax: syntax, endName: endName)
        if syntax == .json, bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            locator.position = 3
        }
        do throws(Problem) {
            try locator.skipSpaceAndComments()
            try locator.value(depth: 0)
            try locator.skipSpaceAndComments()
            if locator.position < bytes.count {
                throw locator.problem("unexpected \(locator.current) after the end of the document")
            }
            return nil
        } catch {
            return error
        }
    }

    /// Says where `bytes`, which a JSON reader rejected, stop being valid:
    /// `at column C: WHAT` for a text of one line, `at line L, column C: WHAT`
    /// for a longer one. Nil when the check finds no syntax error.
    public static func locatedProblem(
        in bytes: [UInt8], syntax: Syntax = .json5, endName: String = "the end of the file"
    ) -> String? {
        guard let problem = firstProblem(in: bytes, syntax: syntax, endName: endName) else { return nil }
        let place = bytes.contains(UInt8(ascii: "\n")) ? "line \(problem.line), column \(problem.column)" : "column \(problem.column)"
        return "at \(place): \(problem.message)"
    }

    /// Returns each key that appears again in the same object, with the byte
    /// offset of the repeat, in text order. Foundation's readers keep the
    /// first value without a warning, while many other readers keep the last,
    /// so callers reject the text. Keys inside the value of a repeated key are
    /// not listed again.
    public static func repeatedKeys(in bytes: [UInt8], syntax: Syntax = .json5) -> [(path: JSONKeyPath, offset: Int)] {
        var locator = JSON5SyntaxLocator(bytes, syntax: syntax)
        do throws(Problem) {
            try locator.skipSpaceAndComments()
            try locator.value(depth: 0)
        } catch {}
        return locator.repeats
    }

    /// Returns the byte offset of every key in `bytes`, and of every array
    /// element, by key path.
    ///
    /// A key that appears twice in one object keeps the offset of its first
    /// appearance, because Foundation's reader keeps the first value (checked
    /// with Swift 6.3's Foundation). After a syntax error the map holds only the keys before it.
    public static func keyOffsets(in bytes: [UInt8]) -> [JSONKeyPath: Int] {
        var locator = JSON5SyntaxLocator(bytes)
        do throws(Problem) {
            try locator.skipSpaceAndComments()
            try locator.value(depth: 0)
        } catch {}
        return locator.offsets
    }

    // MARK: Values

    private mutating func value(depth: Int) throws(Problem) {
        // No configuration nests this deep, and the limit keeps recursion off the end of the stack.
        guard depth < 512 else { throw problem("too deeply nested") }
        guard position < bytes.count else { throw problem("expected a value, found \(endName)") }

        switch bytes[position] {
        case UInt8(ascii: "{"):
            try container(closing: UInt8(ascii: "}"), depth: depth) { locator throws(Problem) in
                let keyStart = locator.position
                let key = try locator.key()
                try locator.skipSpaceAndComments()
                guard locator.consume(UInt8(ascii: ":")) else { throw locator.problem("expected ':' after the key, found \(locator.current)") }
                try locator.skipSpaceAndComments()
                try locator.element(at: locator.path.appending(key), start: keyStart, depth: depth)
            }
        case UInt8(ascii: "["):
            var index = 0
            try container(closing: UInt8(ascii: "]"), depth: depth) { locator throws(Problem) in
                try locator.element(at: locator.path.appending(index: index), start: locator.position, depth: depth)
                index += 1
            }
        case UInt8(ascii: "'") where syntax == .json:
            throw problem("a string in single quotes; JSON strings take double quotes")
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            guard consumeWord("true") || consumeWord("false") || consumeWord("null") else {
                throw problem("expected a value, found \(current)\(quoteHint)")
            }
        default:
            try number()
        }
    }

    /// Reads the value of a key or an array element whose path is `elementPath`
    /// and whose key (or value, in an array) starts at `start`.
    private mutating func element(at elementPath: JSONKeyPath, start: Int, depth: Int) throws(Problem) {
        let isRepeat = offsets[elementPath] != nil
        if !isRepeat {
            offsets[elementPath] = start
        } else if !insideRepeat {
            repeats.append((elementPath, start))
        }
        let outer = (path, insideRepeat)
        path = elementPath
        insideRepeat = insideRepeat || isRepeat
        try value(depth: depth + 1)
        (path, insideRepeat) = outer
    }

    /// Reads `{…}` or `[…]`: elements separated by commas, with an optional trailing comma.
    private mutating func container(
        closing: UInt8, depth: Int, element: (inout JSON5SyntaxLocator) throws(Problem) -> Void
    ) throws(Problem) {
        let opening = position
        position += 1
        try skipSpaceAndComments()
        while true {
            if consume(closing) { return }
            guard position < bytes.count else {
                throw problem("'\(Character(UnicodeScalar(bytes[opening])))' is never closed", at: opening)
            }
            try element(&self)
            try skipSpaceAndComments()
            if consume(closing) { return }
            guard consume(UInt8(ascii: ",")) else {
                throw problem("expected ',' or '\(Character(UnicodeScalar(closing)))', found \(current)")
            }
            let comma = position - 1
            try skipSpaceAndComments()
            if syntax == .json, position < bytes.count, bytes[position] == closing {
                throw problem("a comma before '\(Character(UnicodeScalar(closing)))', which JSON does not allow; remove it", at: comma)
            }
        }
    }

    /// Reads a key and returns its name as Foundation's reader decodes it.
    private mutating func key() throws(Problem) -> String {
        guard position < bytes.count else { throw problem("expected a key, found \(endName)") }
        let start = position
        if syntax == .json, bytes[position] == UInt8(ascii: "'") {
            throw problem("a key in single quotes; JSON keys take double quotes")
        }
        if syntax == .json, bytes[position] != UInt8(ascii: "\"") {
            throw problem("expected a key in double quotes, found \(current)")
        }
        if bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") {
            try string()
            let quoted = bytes[start..<position]
            guard quoted.contains(UInt8(ascii: "\\")) else {
                return String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
            }
            // Escapes are decoded by the same reader that decoded the document, so the names match.
            let decoder = JSONDecoder()
            decoder.allowsJSON5 = true
            return (try? decoder.decode(String.self, from: Data(quoted))) ?? String(decoding: quoted, as: UTF8.self)
        }
        while position < bytes.count, Self.isIdentifierByte(bytes[position], first: position == start) {
            position += 1
        }
        guard position > start else { throw problem("expected a key, found \(current)") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func string() throws(Problem) {
        let quote = bytes[position]
        let start = position
        position += 1
        while position < bytes.count {
            let byte = bytes[position]
            if byte == quote {
                position += 1
                return
            }
            if byte == UInt8(ascii: "\\") {
                // Any escaped character is accepted here, including a line break (a continuation).
                position += 2
                continue
            }
            if byte == UInt8(ascii: "\n") {
                throw problem("the string that starts at \(place(of: start)) does not end on its line")
            }
            if syntax == .json, byte < 0x20 {
                throw problem("a control character inside a string; write it as an escape such as \\n or \\t")
            }
            position += 1
        }
        throw problem("the string is never closed", at: start)
    }

    private mutating func number() throws(Problem) {
        let start = position
        if syntax == .json, position < bytes.count, bytes[position] == UInt8(ascii: "+") {
            throw problem("'+' before a number, which JSON does not allow")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
            position += 1
        }
        let numberStart = position
        if consumeWord("Infinity") || consumeWord("NaN") {
            guard syntax == .json5 else {
                position = numberStart
                throw problem("Infinity and NaN are not JSON numbers")
            }
            return
        }
        if syntax == .json, position + 1 < bytes.count, bytes[position] == UInt8(ascii: "0"),
           bytes[position + 1] | 0x20 == UInt8(ascii: "x") {
            throw problem("a hexadecimal number, which JSON does not allow; write it in decimal")
        }
        if consumeWord("0x") || consumeWord("0X") {
            let digitsStart = position
            while position < bytes.count, bytes[position].isHexDigit { position += 1 }
            guard position > digitsStart else { throw problem("expected hexadecimal digits after 0x") }
            return
        }

        var digits = 0
        while position < bytes.count, bytes[position].isDigit { position += 1; digits += 1 }
        if consume(UInt8(ascii: ".")) {
            while position < bytes.count, bytes[position].isDigit { position += 1; digits += 1 }
        }
        guard digits > 0 else {
            position = start
            throw problem("expected a value, found \(current)\(quoteHint)")
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            _ = consume(UInt8(ascii: "+")) || consume(UInt8(ascii: "-"))
            let exponentStart = position
            while position < bytes.count, bytes[position].isDigit { position += 1 }
            guard position > exponentStart else { throw problem("expected digits in the number's exponent") }
        }
        if position < bytes.count, Self.isIdentifierByte(bytes[position], first: false) {
            throw problem("unexpected \(current) in a number; quote strings and put units inside them, such as \"30s\"")
        }
    }

    // MARK: Space and comments

    private mutating func skipSpaceAndComments() throws(Problem) {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                position += 1
            case _ where syntax == .json:
                if bytes[position] == UInt8(ascii: "/") {
                    throw problem("a comment, which JSON does not allow; remove it")
                }
                return
            case 0x0B, 0x0C:
                position += 1
            case 0xC2 where position + 1 < bytes.count && bytes[position + 1] == 0xA0:
                position += 2
            case 0xEF where position + 2 < bytes.count && bytes[position + 1] == 0xBB && bytes[position + 2] == 0xBF:
                position += 3
            case UInt8(ascii: "/") where position + 1 < bytes.count && bytes[position + 1] == UInt8(ascii: "/"):
                while position < bytes.count, bytes[position] != UInt8(ascii: "\n") { position += 1 }
            case UInt8(ascii: "/") where position + 1 < bytes.count && bytes[position + 1] == UInt8(ascii: "*"):
                let start = position
                position += 2
                while position + 1 < bytes.count, !(bytes[position] == UInt8(ascii: "*") && bytes[position + 1] == UInt8(ascii: "/")) {
                    position += 1
                }
                guard position + 1 < bytes.count else { throw problem("the comment is never closed", at: start) }
                position += 2
            default:
                return
            }
        }
    }

    // MARK: Helpers

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private mutating func consumeWord(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        let matches = word.withUTF8Buffer { buffer in
            buffer.indices.allSatisfy { bytes[position + $0] == buffer[$0] }
        }
        if matches { position += count }
        return matches
    }

    /// ASCII letters, digits, `$` and `_`, and any non-ASCII byte, which
    /// JSON5 allows for Unicode letters; a key is not checked further.
    private static func isIdentifierByte(_ byte: UInt8, first: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "$"), UInt8(ascii: "_"), 0x80...:
            true
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            !first
        default:
            false
        }
    }

    /// The advice for a value that does not start like one: a word was most
    /// likely meant as a string.
    private var quoteHint: String {
        guard position < bytes.count, Self.isIdentifierByte(bytes[position], first: true) else { return "" }
        return "; quote strings"
    }

    /// The character at the current position, quoted, or the end of the text.
    private var current: String {
        guard position < bytes.count else { return endName }
        var end = position + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return "'" + String(decoding: bytes[position..<end], as: UTF8.self) + "'"
    }

    private func problem(_ message: String, at offset: Int? = nil) -> Problem {
        let (line, column) = Self.lineAndColumn(of: offset ?? position, in: bytes)
        return Problem(line: line, column: column, message: message)
    }

    private func place(of offset: Int) -> String {
        let (line, column) = Self.lineAndColumn(of: offset, in: bytes)
        return "line \(line), column \(column)"
    }

    /// Returns the 1-based line and column of the byte at `offset`. Columns
    /// count characters, not bytes, so they match what an editor shows.
    public static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}

extension UInt8 {
    fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }

    fileprivate var isHexDigit: Bool {
        isDigit || (self | 0x20 >= UInt8(ascii: "a") && self | 0x20 <= UInt8(ascii: "f"))
    }
}

import Foundation

// A direct reader for the common form of a job spec, because JSONDecoder took
// more than a third of the time of `berth submit --file`. This reader builds
// the same JobSpec from the specs it accepts and returns nil for anything else.
// JSONDecoder then decodes every unusual input and reports its errors: null
// values, duplicate keys, \u escapes, an exponent or a fraction where an
// integer belongs, the Perstack adapter, and invalid JSON.
// Debug builds compare both results on every call.

extension JobSpec {
    /// Decodes `data` without JSONDecoder, or returns nil when JSONDecoder must decide.
    static func decodeWithoutDecoder(_ data: Data) -> JobSpec? {
        data.withUnsafeBytes { raw in
            var reader = SpecReader(bytes: raw.bindMemory(to: UInt8.self))
            return reader.readSpec()
        }
    }

    /// Decodes a spec that berth stored, without validating it again, because
    /// the daemon reads the stored spec on every claim.
    ///
    /// The direct reader reads the common form; JSONDecoder reads the rest and
    /// throws its own error for JSON that is not a spec.
    public static func decodeStored(json: String) throws -> JobSpec {
        var json = json
        let direct = json.withUTF8 { bytes in
            var reader = SpecReader(bytes: bytes)
            return reader.readSpec()
        }
        guard let direct else {
            return try JSONDecoder().decode(JobSpec.self, from: Data(json.utf8))
        }
        assert(
            direct == (try? JSONDecoder().decode(JobSpec.self, from: Data(json.utf8))),
            "the spec reader differs from JSONDecoder for \(json)")
        return direct
    }
}

/// A cursor over the bytes of one spec that reads the JSON values a spec holds.
/// Every method returns nil, or false, for input it does not accept.
private struct SpecReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func readSpec() -> JobSpec? {
        var spec = JobSpec(image: "", command: [])
        var hasImage = false
        var hasCommand = false
        let complete = readObject { reader, key in
            switch key {
            case "image":
                guard let image = reader.readString() else { return false }
                spec.image = image
                hasImage = true
            case "command":
                guard let command = reader.readStringArray() else { return false }
                spec.command = command
                hasCommand = true
            case "env":
                guard let env = reader.readStringObject() else { return false }
                spec.env = env
            case "secrets":
                guard let secrets = reader.readStringArray() else { return false }
                spec.secrets = secrets
            case "queue":
                guard let queue = reader.readString() else { return false }
                spec.queue = queue
            case "priority":
                guard let priority = reader.readInteger() else { return false }
                spec.priority = priority
            case "limits":
                guard let limits = reader.readLimits() else { return false }
                spec.limits = limits
            case "retry":
                guard let retry = reader.readRetry() else { return false }
                spec.retry = retry
            case "idempotencyKey":
                guard let key = reader.readString() else { return false }
                spec.idempotencyKey = key
            case "runAt":
                guard let text = reader.readString(), let runAt = try? RunAtTime.parse(text, field: "runAt") else { return false }
                spec.runAt = runAt
            case "labels":
                guard let labels = reader.readStringObject() else { return false }
                spec.labels = labels
            case "adapter":
                guard reader.readGenericAdapter() else { return false }
            case "hold":
                guard let hold = reader.readBool() else { return false }
                spec.hold = hold
            default:
                return false
            }
            return true
        }
        skipWhitespace()
        guard complete, position == bytes.count, hasImage, hasCommand else { return nil }
        return spec
    }

    private mutating func readLimits() -> JobSpec.Limits? {
        var limits = JobSpec.Limits()
        let complete = readObject { reader, key in
            switch key {
            case "memory": limits.memory = reader.readByteSize()
            case "cpus": limits.cpus = reader.readDouble()
            case "pids": limits.pids = reader.readInteger()
            case "timeout": limits.timeout = reader.readTimeSpan()
            case "workspaceDisk": limits.workspaceDisk = reader.readByteSize()
            case "maxOutputBytes": limits.maxOutputBytes = reader.readByteSize()
            default: return false
            }
            return reader.lastValueWasRead
        }
        return complete ? limits : nil
    }

    private mutating func readRetry() -> JobSpec.RetryOverrides? {
        var retry = JobSpec.RetryOverrides()
        let complete = readObject { reader, key in
            switch key {
            case "maxAttempts": retry.maxAttempts = reader.readInteger()
            case "initialDelay": retry.initialDelay = reader.readTimeSpan()
            case "maxDelay": retry.maxDelay = reader.readTimeSpan()
            case "multiplier": retry.multiplier = reader.readDouble()
            case "jitter": retry.jitter = reader.readDouble()
            case "retryOn":
                retry.retryOn = reader.readStringArray().flatMap { names in
                    let outcomes = names.compactMap(AttemptOutcome.init(rawValue:))
                    return outcomes.count == names.count ? outcomes : nil
                }
                reader.lastValueWasRead = retry.retryOn != nil
            case "neverRetryExitCodes": retry.neverRetryExitCodes = reader.readExitCodes()
            default: return false
            }
            return reader.lastValueWasRead
        }
        return complete ? retry : nil
    }

    /// Reads `{"type":"generic"}`, the only adapter object read here.
    private mutating func readGenericAdapter() -> Bool {
        var hasType = false
        let complete = readObject { reader, key in
            hasType = key == "type" && reader.readString() == "generic"
            return hasType
        }
        return complete && hasType
    }

    /// Whether the last typed read succeeded; set by the `read…` methods that
    /// return an optional value, so that an object's handler can report it.
    var lastValueWasRead = false

    // MARK: Values

    private mutating func readByteSize() -> ByteSize? {
        skipWhitespace()
        var size: ByteSize? = nil
        if peek() == UInt8(ascii: "\"") {
            size = readString().flatMap(ByteSize.init(parsing:))
        } else if let bytes = readInteger(), bytes >= 0 {
            size = ByteSize(bytes: Int64(bytes))
        }
        lastValueWasRead = size != nil
        return size
    }

    private mutating func readTimeSpan() -> TimeSpan? {
        let span = readString().flatMap(TimeSpan.init(parsing:))
        lastValueWasRead = span != nil
        return span
    }

    private mutating func readExitCodes() -> [Int32]? {
        var codes: [Int32] = []
        let complete = readArray { reader in
            guard let code = reader.readInteger(), let exact = Int32(exactly: code) else { return false }
            codes.append(exact)
            return true
        }
        lastValueWasRead = complete
        return complete ? codes : nil
    }

    private mutating func readBool() -> Bool? {
        skipWhitespace()
        if consume("true") { return true }
        if consume("false") { return false }
        return nil
    }

    /// Reads a number without a fraction or an exponent that fits in `Int`.
    mutating func readInteger() -> Int? {
        skipWhitespace()
        let start = position
        guard scanNumber(), let value = Int(text(from: start)) else {
            lastValueWasRead = false
            return nil
        }
        let hasFractionOrExponent = bytes[start..<position].contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        lastValueWasRead = !hasFractionOrExponent
        return hasFractionOrExponent ? nil : value
    }

    private mutating func readDouble() -> Double? {
        skipWhitespace()
        let start = position
        guard scanNumber(), let value = Double(text(from: start)), value.isFinite else {
            lastValueWasRead = false
            return nil
        }
        lastValueWasRead = true
        return value
    }

    /// Moves past one number of JSON's grammar; false when none is there.
    private mutating func scanNumber() -> Bool {
        _ = consume("-")
        guard let first = peek(), isDigit(first) else { return false }
        position += 1
        if first != UInt8(ascii: "0") {
            skipDigits()
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard skipDigits() > 0 else { return false }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") {
                position += 1
            }
            guard skipDigits() > 0 else { return false }
        }
        return true
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = position
        while let byte = peek(), isDigit(byte) {
            position += 1
        }
        return position - start
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private func text(from start: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    /// Reads a string with the short escapes; nil for `\u`, a control character or invalid UTF-8.
    mutating func readString() -> String? {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { return nil }
        position += 1
        let start = position
        var unescaped: [UInt8]? = nil
        var copiedUpTo = start
        // The bits of every byte, so that plain ASCII can skip UTF-8 validation.
        var allBits: UInt8 = 0
        while position < bytes.count {
            let byte = bytes[position]
            allBits |= byte
            switch byte {
            case UInt8(ascii: "\""):
                let end = position
                position += 1
                if var buffer = unescaped {
                    buffer.append(contentsOf: bytes[copiedUpTo..<end])
                    return String(validating: buffer, as: UTF8.self)
                }
                let content = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if allBits < 0x80 {
                    return String(decoding: content, as: UTF8.self)
                }
                return String(validating: content, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard position + 1 < bytes.count, let replacement = Self.shortEscapes[bytes[position + 1]] else { return nil }
                var buffer = unescaped ?? []
                buffer.append(contentsOf: bytes[copiedUpTo..<position])
                buffer.append(replacement)
                unescaped = buffer
                position += 2
                copiedUpTo = position
            case 0..<0x20:
                return nil
            default:
                position += 1
            }
        }
        return nil
    }

    private static let shortEscapes: [UInt8: UInt8] = [
        UInt8(ascii: "\""): UInt8(ascii: "\""), UInt8(ascii: "\\"): UInt8(ascii: "\\"), UInt8(ascii: "/"): UInt8(ascii: "/"),
        UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0c, UInt8(ascii: "n"): 0x0a, UInt8(ascii: "r"): 0x0d, UInt8(ascii: "t"): 0x09,
    ]

    mutating func readStringArray() -> [String]? {
        var values: [String] = []
        let complete = readArray { reader in
            guard let value = reader.readString() else { return false }
            values.append(value)
            return true
        }
        return complete ? values : nil
    }

    mutating func readStringObject() -> [String: String]? {
        var values: [String: String] = [:]
        let complete = readObject { reader, key in
            guard let value = reader.readString() else { return false }
            values[key] = value
            return true
        }
        return complete ? values : nil
    }

    // MARK: Structure

    /// Reads `[…]`, calling `element` for each element; false on anything else.
    private mutating func readArray(_ element: (inout SpecReader) -> Bool) -> Bool {
        skipWhitespace()
        guard consume("[") else { return false }
        skipWhitespace()
        if consume("]") { return true }
        while true {
            guard element(&self) else { return false }
            skipWhitespace()
            if consume("]") { return true }
            guard consume(",") else { return false }
        }
    }

    /// Reads `{…}`, calling `member` with each key while the reader is at its
    /// value; false on anything else, and on a key that appears twice.
    mutating func readObject(_ member: (inout SpecReader, String) -> Bool) -> Bool {
        skipWhitespace()
        guard consume("{") else { return false }
        skipWhitespace()
        if consume("}") { return true }
        var seen = SeenKeys()
        while true {
            guard let key = readString(), seen.insert(key) else { return false }
            skipWhitespace()
            guard consume(":"), member(&self, key) else { return false }
            skipWhitespace()
            if consume("}") { return true }
            guard consume(",") else { return false }
        }
    }

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
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
    mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d {
            position += 1
        }
    }
}

/// The keys read so far in one object, to find a key that appears twice.
///
/// The first keys are kept in an array, because a spec's objects have few
/// keys and hashing each into a set cost more than comparing it with the
/// earlier ones. Larger objects, such as a long `env`, use a set.
private struct SeenKeys {
    private static let arrayLimit = 16
    private var few: [String] = []
    private var many: Set<String> = []

    /// Adds `key` and returns false when it was already there.
    mutating func insert(_ key: String) -> Bool {
        if few.contains(key) || many.contains(key) { return false }
        if few.count < Self.arrayLimit {
            few.append(key)
        } else {
            many.insert(key)
        }
        return true
    }
}

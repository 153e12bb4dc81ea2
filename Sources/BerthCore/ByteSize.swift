/// A number of bytes, written by people as `512m`, `2g` or `1.5g`.
///
/// Units are binary, as in docker and podman: `k` is 1024 bytes, `m` is 1024 k,
/// and so on up to `t`. A bare number is bytes.
public struct ByteSize: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var bytes: Int64

    public init(bytes: Int64) {
        self.bytes = bytes
    }

    public static func kibibytes(_ count: Int64) -> ByteSize { ByteSize(bytes: count * 1024) }
    public static func mebibytes(_ count: Int64) -> ByteSize { ByteSize(bytes: count * 1024 * 1024) }
    public static func gibibytes(_ count: Int64) -> ByteSize { ByteSize(bytes: count * 1024 * 1024 * 1024) }

    private static let units: [(suffixes: [String], factor: Int64)] = [
        (["t", "tb", "ti", "tib"], 1 << 40),
        (["g", "gb", "gi", "gib"], 1 << 30),
        (["m", "mb", "mi", "mib"], 1 << 20),
        (["k", "kb", "ki", "kib"], 1 << 10),
        (["b", ""], 1),
    ]

    /// Parses `text` such as `2g`, `512m`, `1.5g` or `1048576`; nil when it is not a size.
    public init?(parsing text: String) {
        let lowered = text.trimmingWhitespace().lowercased()
        let numberEnd = lowered.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? lowered.endIndex
        let numberText = lowered[..<numberEnd]
        let suffix = String(lowered[numberEnd...])
        guard !numberText.isEmpty,
              let number = Double(numberText),
              number.isFinite, number >= 0,
              let unit = Self.units.first(where: { $0.suffixes.contains(suffix) })
        else { return nil }

        let bytes = number * Double(unit.factor)
        guard bytes < Double(Int64.max) else { return nil }
        self.bytes = Int64(bytes.rounded())
    }

    /// The shortest exact form: `2g` rather than `2048m`.
    public var description: String {
        for unit in Self.units where unit.factor > 1 {
            if bytes != 0, bytes % unit.factor == 0 {
                return "\(bytes / unit.factor)\(unit.suffixes[0])"
            }
        }
        return "\(bytes)"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }
}

extension ByteSize: Codable {
    /// Decodes a size string such as `"2g"` or a number of bytes.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let bytes = try? container.decode(Int64.self) {
            guard bytes >= 0 else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\(bytes) is negative; expected a size such as 512m or 2g")
            }
            self.init(bytes: bytes)
            return
        }
        let text = try container.decode(String.self)
        guard let size = ByteSize(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\"\(text)\" is not a size; expected a number with k, m, g or t, such as 512m or 2g")
        }
        self = size
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension String {
    func trimmingWhitespace() -> Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<end]
    }
}

/// A length of time in milliseconds, written by people as `30s`, `15m`, `2h`,
/// `7d`, `1500ms` or a sum such as `1h30m`.
public struct TimeSpan: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    public static func seconds(_ count: Int64) -> TimeSpan { TimeSpan(milliseconds: count * 1000) }
    public static func minutes(_ count: Int64) -> TimeSpan { TimeSpan(milliseconds: count * 60_000) }
    public static func hours(_ count: Int64) -> TimeSpan { TimeSpan(milliseconds: count * 3_600_000) }
    public static func days(_ count: Int64) -> TimeSpan { TimeSpan(milliseconds: count * 86_400_000) }

    public static let zero = TimeSpan(milliseconds: 0)

    private static let units: [(suffix: String, factor: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
    ]

    /// Parses `text` such as `30s`, `1h30m` or `250ms`; nil when it is not a duration.
    /// Every number needs a unit, because a bare `30` could mean seconds or minutes.
    public init?(parsing text: String) {
        var remaining = Substring(text.trimmingWhitespace().lowercased())
        guard !remaining.isEmpty else { return nil }

        var total: Double = 0
        while !remaining.isEmpty {
            let numberEnd = remaining.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? remaining.endIndex
            guard numberEnd > remaining.startIndex, let number = Double(remaining[..<numberEnd]), number.isFinite else {
                return nil
            }
            remaining = remaining[numberEnd...]

            let unitEnd = remaining.firstIndex { $0.isASCII && ($0.isNumber || $0 == ".") } ?? remaining.endIndex
            let unitText = String(remaining[..<unitEnd])
            guard let unit = Self.units.first(where: { $0.suffix == unitText }) else { return nil }
            remaining = remaining[unitEnd...]

            total += number * Double(unit.factor)
        }
        guard total < Double(Int64.max) else { return nil }
        self.milliseconds = Int64(total.rounded())
    }

    /// The canonical form: the largest units first, such as `1h30m` or `1500ms`.
    public var description: String {
        if milliseconds == 0 { return "0s" }
        if milliseconds < 0 || milliseconds % 1000 != 0 { return "\(milliseconds)ms" }

        var remaining = milliseconds
        var text = ""
        for unit in Self.units where unit.factor >= 1000 {
            let count = remaining / unit.factor
            if count > 0 {
                text += "\(count)\(unit.suffix)"
                remaining -= count * unit.factor
            }
        }
        return text
    }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

extension TimeSpan: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let span = TimeSpan(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "\"\(text)\" is not a duration; expected a number with a unit (ms, s, m, h, d), such as 30s or 1h30m")
        }
        self = span
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

import BerthCore
import Foundation
import Testing

struct TimeSpanTests {
    static let parsed: [(text: String, milliseconds: Int64)] = [
        ("0s", 0),
        ("250ms", 250),
        ("1500ms", 1500),
        ("30s", 30_000),
        ("1.5s", 1500),
        ("30m", 1_800_000),
        ("2h", 7_200_000),
        ("7d", 604_800_000),
        ("1h30m", 5_400_000),
        ("1.5h", 5_400_000),
        ("1d2h3m4s5ms", 93_784_005),
        ("90s", 90_000),
        ("1H30M", 5_400_000),
        (" 30s ", 30_000),
        ("1m1ms", 60_001),
    ]

    @Test(arguments: parsed)
    func parse(text: String, milliseconds: Int64) {
        #expect(TimeSpan(parsing: text)?.milliseconds == milliseconds)
    }

    static let invalid: [String] = [
        "", " ", "30", "1h30", "s", "-5s", "1w", "1y", "1.2.3s", "1h 30m", "30sec",
        "ms", "1e3s", "h1", "+5s", "inf", "9999999999999999d",
    ]

    @Test(arguments: invalid)
    func parseRejects(text: String) {
        #expect(TimeSpan(parsing: text) == nil)
    }

    static let canonical: [(milliseconds: Int64, text: String)] = [
        (0, "0s"),
        (1, "1ms"),
        (1500, "1500ms"),
        (1000, "1s"),
        (90_000, "1m30s"),
        (5_400_000, "1h30m"),
        (86_400_000, "1d"),
        (93_784_000, "1d2h3m4s"),
        (93_784_005, "93784005ms"),
        (30 * 86_400_000, "30d"),
    ]

    @Test(arguments: canonical)
    func description(milliseconds: Int64, text: String) {
        #expect(TimeSpan(milliseconds: milliseconds).description == text)
    }

    @Test(arguments: canonical)
    func descriptionParsesBack(milliseconds: Int64, text: String) {
        #expect(TimeSpan(parsing: TimeSpan(milliseconds: milliseconds).description)?.milliseconds == milliseconds)
    }

    @Test func constructors() {
        #expect(TimeSpan.seconds(2).milliseconds == 2000)
        #expect(TimeSpan.minutes(2).milliseconds == 120_000)
        #expect(TimeSpan.hours(2).milliseconds == 7_200_000)
        #expect(TimeSpan.days(2).milliseconds == 172_800_000)
        #expect(TimeSpan.zero.milliseconds == 0)
    }

    @Test func ordering() {
        #expect(TimeSpan.seconds(59) < TimeSpan.minutes(1))
        #expect(!(TimeSpan.minutes(1) < TimeSpan.seconds(60)))
    }

    @Test func decode() throws {
        let span = try JSONDecoder().decode(TimeSpan.self, from: Data(#""1h30m""#.utf8))

        #expect(span == TimeSpan.minutes(90))
    }

    @Test func decodeBareNumber() {
        let error = #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TimeSpan.self, from: Data(#""30""#.utf8))
        }

        #expect(String(describing: error).contains("expected a number with a unit"))
    }

    @Test func decodeJSONNumber() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TimeSpan.self, from: Data("30".utf8))
        }
    }

    @Test func encodeCanonical() throws {
        let data = try JSONEncoder().encode([TimeSpan.seconds(5400)])

        #expect(String(decoding: data, as: UTF8.self) == #"["1h30m"]"#)
    }
}

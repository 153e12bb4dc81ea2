import BerthCore
import Foundation
import Testing

struct RunAtTimeTests {
    /// 2026-12-04T09:30:00Z in Unix milliseconds, from `date -u -d 2026-12-04T09:30:00Z +%s`.
    static let instant: Int64 = 1_796_376_600_000

    static let sameInstant: [String] = [
        "2026-12-04T09:30:00Z",
        "2026-12-04T09:30:00z",
        "2026-12-04T18:30:00+09:00",
        "2026-12-04T04:00:00-05:30",
        "2026-12-04T09:30:00+00:00",
        "2026-12-04T09:30:00.000Z",
        "2026-12-03T23:30:00-10:00",
        "2026-12-04T10:30:00+0100",
    ]

    @Test(arguments: sameInstant)
    func offsetStoredAsUTC(text: String) throws {
        #expect(try RunAtTime.parse(text, field: "runAt") == Self.instant)
    }

    @Test(arguments: sameInstant)
    func offsetInSpecStoredAsUTC(text: String) throws {
        let spec = try decodeSpec(specJSON(#""runAt":""# + text + #"""#))

        #expect(spec.runAt == Self.instant)
    }

    @Test func fractionKeptAsMilliseconds() throws {
        #expect(try RunAtTime.parse("2026-12-04T09:30:00.250Z", field: "runAt") == Self.instant + 250)
        #expect(try RunAtTime.parse("2026-12-04T18:30:00.999+09:00", field: "runAt") == Self.instant + 999)
    }

    @Test func epoch() throws {
        #expect(try RunAtTime.parse("1970-01-01T00:00:00Z", field: "runAt") == 0)
    }

    @Test func leapDay() throws {
        #expect(try RunAtTime.parse("2024-02-29T23:59:59Z", field: "runAt") == 1_709_251_199_000)
    }

    @Test func formatUTC() {
        #expect(RunAtTime.format(Self.instant) == "2026-12-04T09:30:00.000Z")
        #expect(RunAtTime.format(Self.instant + 7) == "2026-12-04T09:30:00.007Z")
    }

    @Test func formatBeforeEpoch() {
        #expect(RunAtTime.format(-1) == "1969-12-31T23:59:59.999Z")
        #expect(RunAtTime.format(-1000) == "1969-12-31T23:59:59.000Z")
    }

    @Test(arguments: [Int64(-1), -1001, 0, 1, 7, 123, 250, 999, 1_000, 1_796_376_600_001, 1_796_376_600_123, 1_796_376_600_999, 4_102_444_799_999])
    func formatParsesBack(milliseconds: Int64) throws {
        let text = RunAtTime.format(milliseconds)

        #expect(try RunAtTime.parse(text, field: "runAt") == milliseconds, "\(text)")
    }

    @Test func errorNamesField() {
        let error = #expect(throws: SpecError.self) {
            try RunAtTime.parse("2026-12-04T09:30:00", field: "--at")
        }

        #expect(error?.field == "--at")
        #expect(error?.value == "\"2026-12-04T09:30:00\"")
    }

    @Test(arguments: ["2026-12-04T09:30:00", "2026-12-04T09:30", "2026-12-04", "09:30:00Z", "2026-12-04T09:30:00+9"])
    func zoneRequired(text: String) {
        let error = #expect(throws: SpecError.self) {
            try RunAtTime.parse(text, field: "runAt")
        }

        #expect(error?.problem.contains("with a zone") == true)
    }
}

import BerthCore
import Foundation
import Testing

struct AttemptOutcomeTests {
    @Test func interruptedAndWaitingAreFree() {
        let free = AttemptOutcome.allCases.filter { !$0.countsAsAttempt }

        #expect(free == [.interrupted, .waitingForInput])
    }

    @Test func rawValues() {
        let names = AttemptOutcome.allCases.map(\.rawValue)

        #expect(names == ["succeeded", "failed", "out_of_memory", "timed_out", "cancelled", "lost", "start_failed", "interrupted", "waiting_for_input"])
    }

    @Test func codableUsesRawValue() throws {
        let data = try JSONEncoder().encode([AttemptOutcome.outOfMemory])
        let decoded = try JSONDecoder().decode([AttemptOutcome].self, from: data)

        #expect(String(decoding: data, as: UTF8.self) == #"["out_of_memory"]"#)
        #expect(decoded == [.outOfMemory])
    }
}

import Testing

@testable import BerthCore

@Suite struct KeySuggestionTests {
    @Test(arguments: [
        ("concurency", "concurrency"), ("CONCURRENCY", "concurrency"), ("memroy", "memory"),
        ("usr", "user"), ("cpu", "cpus"), ("timeuot", "timeout"),
    ])
    func closeKeyIsSuggested(unknown: String, expected: String) {
        let valid = ["concurrency", "memory", "user", "cpus", "pids", "timeout"]
        #expect(KeySuggestion.closest(to: unknown, among: valid) == expected)
    }

    @Test(arguments: ["id", "colour", "network", "", "concurrencyLimit"])
    func distantKeyIsNotSuggested(unknown: String) {
        let valid = ["concurrency", "memory", "user", "cpus", "pids", "timeout"]
        #expect(KeySuggestion.closest(to: unknown, among: valid) == nil)
    }

    @Test(arguments: [
        ("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("memroy", "memory", 1), ("ab", "ba", 1), ("abc", "abc", 0),
    ])
    func editDistance(first: String, second: String, expected: Int) {
        #expect(KeySuggestion.editDistance(Array(first), Array(second)) == expected)
    }
}

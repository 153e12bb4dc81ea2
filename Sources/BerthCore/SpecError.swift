/// A job spec that failed validation: which field, the value given, and what
/// would be valid.
public struct SpecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The field's path in the spec, such as `limits.memory` or `command[0]`.
    public var field: String
    /// The rejected value as shown: a string quoted and shortened, a number
    /// as it is; nil when the field is missing.
    public var value: String?
    /// What is wrong and what would be accepted.
    public var problem: String
    /// Problems of other fields of the same spec, found by the same validation.
    public var additionalProblems: [SpecError] = []

    public init(field: String, value: String?, problem: String) {
        self.field = field
        self.value = value.map(Self.shortened)
        self.problem = problem
    }

    /// Creates an error for a JSON number, which is shown without quotes, so
    /// that it does not read as a string.
    public init(field: String, number: String, problem: String) {
        self.init(field: field, value: nil, problem: problem)
        value = number
    }

    /// This problem and the additional ones, each on its own, for a report of one per line.
    public var allProblems: [SpecError] {
        var first = self
        first.additionalProblems = []
        return [first] + additionalProblems
    }

    /// The problem as one line; additional problems follow it, separated by semicolons.
    public var description: String {
        ([self.summary] + additionalProblems.map(\.summary)).joined(separator: "; ")
    }

    private var summary: String {
        if let value {
            return "invalid \(field) \(value): \(problem)"
        }
        return "invalid \(field): \(problem)"
    }

    /// Quotes a value and cuts it to a readable length, escaping control characters.
    static func shortened(_ value: String) -> String {
        var escaped = ""
        for scalar in value.unicodeScalars.prefix(80) {
            escaped += scalar.value < 0x20 || scalar.value == 0x7f
                ? scalar.escaped(asASCII: true)
                : String(scalar)
        }
        return "\"\(escaped)\(value.unicodeScalars.count > 80 ? "…" : "")\""
    }
}

/// A configuration file that cannot be used, with every problem found in it.
///
/// Each problem names its key path, the line and column of the key, the value
/// found and what is valid, so an operator can correct the whole file in one pass.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// Exit status for a configuration error, `EX_CONFIG` from sysexits(3).
    public static let exitStatus: Int32 = 78

    /// Problems listed in `lines` at most; the rest are only counted.
    public static let maxListedProblems = 20

    /// One invalid key or value, or a problem with the whole file.
    public struct Problem: Sendable, Equatable {
        /// Dotted path of the key, such as `queues.gpu.memory` or
        /// `engine.extraRunFlags[0]`; empty for the whole file.
        public var keyPath: String
        /// 1-based line of the key, or of the element in an array. It is nil
        /// when the problem is about the whole file or the key was not found in the text.
        public var line: Int?
        /// 1-based column of the key, counted in characters.
        public var column: Int?
        public var message: String
    }

    public var file: String
    /// Problems ordered by line; problems without a line come first.
    public var problems: [Problem]

    init(file: String, problems: [Problem]) {
        self.file = file
        self.problems = problems
    }

    /// Creates an error about the whole file, such as one that cannot be read.
    init(file: String, problem message: String) {
        self.init(file: file, problems: [Problem(keyPath: "", line: nil, column: nil, message: message)])
    }

    /// One line per problem, as `FILE:LINE:COLUMN: KEY PATH: MESSAGE`, up to
    /// `maxListedProblems`, then a line that counts the problems left out.
    public var lines: [String] {
        var lines = problems.prefix(Self.maxListedProblems).map(line(for:))
        let omitted = problems.count - Self.maxListedProblems
        if omitted > 0 {
            lines.append("\(file): \(omitted) more \(omitted == 1 ? "problem" : "problems") not listed; correct the ones above and check again")
        }
        return lines
    }

    public var description: String {
        lines.joined(separator: "\n")
    }

    private func line(for problem: Problem) -> String {
        var text = file
        if let line = problem.line {
            text += ":\(line)"
            if let column = problem.column { text += ":\(column)" }
        }
        if !problem.keyPath.isEmpty { text += ": \(problem.keyPath)" }
        return text + ": \(problem.message)"
    }
}

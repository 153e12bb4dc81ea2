import Foundation

extension JobSpec {
    /// Largest accepted spec, in bytes of JSON.
    public static let maximumEncodedSize = 256 * 1024

    /// Bounds on the values a spec may carry.
    public enum Bounds {
        public static let priority = -1000...1000
        public static let memory = ByteSize.mebibytes(6)...ByteSize(bytes: 1 << 40)
        public static let cpus = 0.01...1024.0
        public static let pids = 8...1_000_000
        public static let timeout = TimeSpan.seconds(1)...TimeSpan.days(30)
        public static let workspaceDisk = ByteSize.mebibytes(1)...ByteSize(bytes: 16 << 40)
        public static let maxOutputBytes = ByteSize.kibibytes(1)...ByteSize.gibibytes(64)
        public static let maxAttempts = 1...100
        public static let retryDelay = TimeSpan.zero...TimeSpan.days(30)
        public static let multiplier = 1.0...100.0
        public static let jitter = 0.0...1.0
        public static let exitCode: ClosedRange<Int32> = 0...255
        public static let commandArguments = 1...4096
        public static let labels = 0...64
        public static let labelValueLength = 256
        public static let idempotencyKeyLength = 1...200
        public static let perstackMaxSteps = 1...100_000
        public static let perstackMaxRetries = 0...100
    }

    /// Environment names the daemon sets itself and a spec may not override.
    public static let reservedEnvironmentPrefix = "BERTH_"

    /// Decodes and validates one spec from JSON, rejecting it before anything is stored.
    public static func decode(json data: Data) throws(SpecError) -> JobSpec {
        if data.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            throw SpecError(field: "spec", value: nil, problem: "is empty; expected a JSON object with at least image and command")
        }
        guard data.count <= maximumEncodedSize else {
            throw SpecError(
                field: "spec", value: nil,
                problem: "is \(data.count) bytes; the maximum is \(maximumEncodedSize) bytes. Put large inputs in the image or a mounted file")
        }
        if let spec = decodeWithoutDecoder(data) {
            assert(spec == (try? JSONDecoder().decode(JobSpec.self, from: data)), "the spec reader differs from JSONDecoder for \(String(decoding: data, as: UTF8.self))")
            try spec.validate()
            return spec
        }
        // Foundation's decoder accepts a trailing comma, which is not JSON, and
        // reports only that a text is invalid, so the syntax is checked first.
        if let problem = JSON5SyntaxLocator.locatedProblem(in: Array(data), syntax: .json, endName: "the end of the spec") {
            throw SpecError(field: "spec", value: nil, problem: "is not valid JSON \(problem)")
        }
        // The direct reader hands repeated keys on, and JSONDecoder would keep the first value without a word.
        if let repeated = JSON5SyntaxLocator.repeatedKeys(in: Array(data), syntax: .json).first {
            let (line, column) = JSON5SyntaxLocator.lineAndColumn(of: repeated.offset, in: Array(data))
            let place = data.contains(UInt8(ascii: "\n")) ? "line \(line), column \(column)" : "column \(column)"
            throw SpecError(
                field: repeated.path.description, value: nil,
                problem: "appears twice in one object, again at \(place); give each key once")
        }
        let spec: JobSpec
        do {
            spec = try JSONDecoder().decode(JobSpec.self, from: data)
        } catch let error as SpecError {
            throw error
        } catch let error as DecodingError {
            var specError = SpecError(decoding: error)
            if case .typeMismatch(_, let context) = error, let text = Self.jsonText(at: context.codingPath, in: data) {
                specError.problem = "is \(Self.describeJSON(text)); \(specError.problem)"
            }
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                if let object = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) {
                    // The JSONDecoder of the Swift 6.3 toolchain reports a fraction or
                    // an out-of-range number in an integer field as invalid JSON, with
                    // no coding path, so the integer fields are searched for it.
                    if let problem = Self.wholeNumberProblem(in: object) {
                        throw problem
                    }
                    specError.problem = "has a number with a fraction, or out of range, in a field that takes a whole number: "
                        + Self.wholeNumberFields.map(\.path).joined(separator: ", ")
                } else {
                    // The syntax check above passed, so the syntax cannot be located.
                    specError.problem = Self.invalidJSONBeyondSyntax
                }
            }
            throw specError
        } catch {
            throw SpecError(field: "spec", value: nil, problem: "is not valid JSON: \(error)")
        }
        try spec.validate()
        return spec
    }

    /// The fields that take a whole number, with their bounds and whether
    /// the decoder reads them as 32-bit integers.
    static let wholeNumberFields: [(path: String, bounds: ClosedRange<Int>, is32Bit: Bool)] = [
        ("priority", Bounds.priority, false),
        ("limits.pids", Bounds.pids, false),
        ("retry.maxAttempts", Bounds.maxAttempts, false),
        ("retry.neverRetryExitCodes", Int(Bounds.exitCode.lowerBound)...Int(Bounds.exitCode.upperBound), true),
        ("adapter.maxSteps", Bounds.perstackMaxSteps, false),
        ("adapter.maxRetries", Bounds.perstackMaxRetries, false),
    ]

    /// Returns the first whole-number field of a parsed spec whose number has
    /// a fraction or does not fit in an integer, naming the field and the number.
    static func wholeNumberProblem(in spec: Any) -> SpecError? {
        for (path, bounds, is32Bit) in wholeNumberFields {
            var value: Any? = spec
            for key in path.split(separator: ".") {
                value = (value as? [String: Any])?[String(key)]
            }
            let numbers: [(field: String, value: Any)] = if let array = value as? [Any] {
                array.enumerated().map { ("\(path)[\($0.offset)]", $0.element) }
            } else {
                value.map { [(path, $0)] } ?? []
            }
            for (field, element) in numbers {
                // Booleans are NSNumbers too, and the decoder reports them by type.
                guard let number = element as? NSNumber, !(element is Bool) else { continue }
                let double = number.doubleValue
                let decodable = is32Bit ? Int32(exactly: double) != nil : Int(exactly: double) != nil
                guard !decodable else { continue }
                let text = double.isFinite && abs(double) < 1e15 ? "\(double)" : number.stringValue
                let problem = double == double.rounded()
                    ? "out of range; expected \(bounds.lowerBound) to \(bounds.upperBound)"
                    : "has a fraction; expected a whole number from \(bounds.lowerBound) to \(bounds.upperBound)"
                return SpecError(field: field, number: text, problem: problem)
            }
        }
        return nil
    }

    /// The problem with a spec that the syntax check passed and Foundation's
    /// decoder still rejected as invalid JSON.
    static let invalidJSONBeyondSyntax = "is not valid JSON; look for a number beyond the range of a 64-bit float, such as 1e400, "
        + "for an escape other than \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX, "
        + "and for bytes that are not UTF-8"

    /// Returns the JSON text of the value at `codingPath` in `data`, for an
    /// error about that value, which the decoder's error does not carry.
    static func jsonText(at codingPath: [any CodingKey], in data: Data) -> String? {
        guard var value = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) else { return nil }
        for key in codingPath {
            if let index = key.intValue, let array = value as? [Any], array.indices.contains(index) {
                value = array[index]
            } else if let object = value as? [String: Any], let member = object[key.stringValue] {
                value = member
            } else {
                return nil
            }
        }
        guard let text = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) else {
            return nil
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Describes a JSON value for a message, such as `the number 30`, so that
    /// a number is not shown in quotes as if it were a string.
    static func describeJSON(_ text: String) -> String {
        switch text.first {
        case "\"": "the string \(SpecError.shortened(String(text.dropFirst().dropLast())))"
        case "[": "an array"
        case "{": "an object"
        case "t", "f", "n": text
        default: "the number \(text)"
        }
    }

    /// The canonical JSON of this spec: sorted keys, defaults omitted.
    public func encodedJSON() -> String {
        guard let written = canonicalJSONWithoutEncoder() else {
            return encodedWithJSONEncoder()
        }
        assert(written == encodedWithJSONEncoder(), "the canonical JSON writer differs from JSONEncoder: \(written)")
        return written
    }

    private func encodedWithJSONEncoder() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and arrays cannot fail.
        let data = try! encoder.encode(self)
        return String(decoding: data, as: UTF8.self)
    }

    /// Checks every field against its bounds and syntax. The error thrown is
    /// the first problem, and carries the others in `additionalProblems`.
    public func validate() throws(SpecError) {
        let found = problems()
        guard var first = found.first else { return }
        first.additionalProblems = Array(found.dropFirst())
        throw first
    }

    /// Returns every problem of this spec, in the order of its fields: one for
    /// each invalid field, array element and map entry. A value with several
    /// faults, such as a secret that is both repeated and set in `env`, adds
    /// its first.
    public func problems() -> [SpecError] {
        var found = SpecProblems()
        found.check { () throws(SpecError) in
            if let problem = ImageReference.problem(with: image) {
                throw SpecError(field: "image", value: image, problem: "\(problem); expected a reference such as alpine:3.20 or registry.example.com/team/app@sha256:…")
            }
        }
        validateCommand(into: &found)
        validateEnvironment(into: &found)
        found.check { () throws(SpecError) in
            try validateName(queue, field: "queue", rule: .queueName,
                             expected: "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        found.check { () throws(SpecError) in try check(priority, in: Bounds.priority, field: "priority") }
        validateLimits(into: &found)
        validateRetry(into: &found)
        if let idempotencyKey {
            found.check { () throws(SpecError) in
                guard Bounds.idempotencyKeyLength.contains(idempotencyKey.utf8.count),
                      !idempotencyKey.containsControlCharacter
                else {
                    throw SpecError(field: "idempotencyKey", value: idempotencyKey,
                                    problem: "expected 1 to \(Bounds.idempotencyKeyLength.upperBound) bytes without control characters")
                }
            }
        }
        validateLabels(into: &found)
        if case .perstack(let options) = adapter {
            options.validate(into: &found)
            validateNoProviderKeysInEnvironment(into: &found)
        }
        return found.problems
    }

    /// Variables that carry a model provider's or Perstack's credentials. A
    /// Perstack job must receive them as secrets, which are never stored.
    public static let perstackCredentialVariables: Set<String> = [
        "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY", "AZURE_API_KEY", "DEEPSEEK_API_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PERSTACK_API_KEY",
    ]

    private func validateNoProviderKeysInEnvironment(into found: inout SpecProblems) {
        for name in env.keys.sorted() where Self.perstackCredentialVariables.contains(name) {
            // The value stays out of the error, because it is a credential.
            found.append(SpecError(field: "env.\(name)", value: nil,
                                   problem: "is a provider credential; list it in secrets instead, so that its value is never stored"))
        }
    }

    private func validateCommand(into found: inout SpecProblems) {
        guard Bounds.commandArguments.contains(command.count) else {
            found.append(SpecError(field: "command", value: nil,
                                   problem: "has \(command.count) arguments; expected 1 to \(Bounds.commandArguments.upperBound), the program first"))
            return
        }
        if command[0].isEmpty {
            found.append(SpecError(field: "command[0]", value: "", problem: "the program name is empty"))
        }
        // NUL is a grapheme of its own, so looking for the byte finds what
        // `contains("\0")` finds, without Foundation's string search.
        for (index, argument) in command.enumerated() where argument.utf8.contains(0) {
            found.append(SpecError(field: "command[\(index)]", value: argument, problem: "contains a NUL byte, which no argv can carry"))
        }
    }

    private func validateEnvironment(into found: inout SpecProblems) {
        for (name, value) in env.sorted(by: { $0.key < $1.key }) {
            found.check { () throws(SpecError) in
                try validateEnvironmentName(name, field: "env")
                if value.utf8.contains(0) {
                    throw SpecError(field: "env.\(name)", value: value, problem: "contains a NUL byte, which no environment can carry")
                }
            }
        }
        var seen = Set<String>()
        for (index, name) in secrets.enumerated() {
            let isFirst = seen.insert(name).inserted
            found.check { () throws(SpecError) in
                try validateEnvironmentName(name, field: "secrets[\(index)]")
                guard isFirst else {
                    throw SpecError(field: "secrets[\(index)]", value: name, problem: "is listed twice")
                }
                if env[name] != nil {
                    throw SpecError(field: "secrets[\(index)]", value: name, problem: "is also set in env; a secret must come from the daemon only")
                }
            }
        }
    }

    private func validateEnvironmentName(_ name: String, field: String) throws(SpecError) {
        try validateName(name, field: field, rule: .environmentName,
                         expected: "a name of letters, digits and '_' that does not start with a digit")
        if name.hasPrefix(Self.reservedEnvironmentPrefix) {
            throw SpecError(field: field, value: name, problem: "names starting with \(Self.reservedEnvironmentPrefix) are set by the daemon")
        }
    }

    private func validateLimits(into found: inout SpecProblems) {
        if let memory = limits.memory { found.check { () throws(SpecError) in try check(memory, in: Bounds.memory, field: "limits.memory") } }
        if let cpus = limits.cpus { found.check { () throws(SpecError) in try check(cpus, in: Bounds.cpus, field: "limits.cpus") } }
        if let pids = limits.pids { found.check { () throws(SpecError) in try check(pids, in: Bounds.pids, field: "limits.pids") } }
        if let timeout = limits.timeout { found.check { () throws(SpecError) in try check(timeout, in: Bounds.timeout, field: "limits.timeout") } }
        if let disk = limits.workspaceDisk {
            found.check { () throws(SpecError) in try check(disk, in: Bounds.workspaceDisk, field: "limits.workspaceDisk") }
        }
        if let output = limits.maxOutputBytes {
            found.check { () throws(SpecError) in try check(output, in: Bounds.maxOutputBytes, field: "limits.maxOutputBytes") }
        }
    }

    private func validateRetry(into found: inout SpecProblems) {
        if let maxAttempts = retry.maxAttempts {
            found.check { () throws(SpecError) in try check(maxAttempts, in: Bounds.maxAttempts, field: "retry.maxAttempts") }
        }
        if let delay = retry.initialDelay { found.check { () throws(SpecError) in try check(delay, in: Bounds.retryDelay, field: "retry.initialDelay") } }
        if let delay = retry.maxDelay {
            found.check { () throws(SpecError) in
                try check(delay, in: Bounds.retryDelay, field: "retry.maxDelay")
                if let initial = retry.initialDelay, delay < initial {
                    throw SpecError(field: "retry.maxDelay", value: delay.description,
                                    problem: "is shorter than retry.initialDelay \(initial); expected at least \(initial)")
                }
            }
        }
        if let multiplier = retry.multiplier { found.check { () throws(SpecError) in try check(multiplier, in: Bounds.multiplier, field: "retry.multiplier") } }
        if let jitter = retry.jitter { found.check { () throws(SpecError) in try check(jitter, in: Bounds.jitter, field: "retry.jitter") } }
        for (index, code) in (retry.neverRetryExitCodes ?? []).enumerated() {
            found.check { () throws(SpecError) in try check(code, in: Bounds.exitCode, field: "retry.neverRetryExitCodes[\(index)]") }
        }
        for (index, outcome) in (retry.retryOn ?? []).enumerated() where RetryPolicy.neverRetried.contains(outcome) {
            found.append(SpecError(field: "retry.retryOn[\(index)]", value: outcome.rawValue,
                                   problem: "never retries; expected failed, out_of_memory, timed_out or lost"))
        }
    }

    private func validateLabels(into found: inout SpecProblems) {
        if !Bounds.labels.contains(labels.count) {
            found.append(SpecError(field: "labels", value: nil, problem: "has \(labels.count) labels; the maximum is \(Bounds.labels.upperBound)"))
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            found.check { () throws(SpecError) in
                try validateName(key, field: "labels", rule: .labelKey,
                                 expected: "1 to 63 letters, digits, '.', '_', '/' or '-', starting with a letter or digit")
                guard value.utf8.count <= Bounds.labelValueLength, !value.containsControlCharacter else {
                    throw SpecError(field: "labels.\(key)", value: value,
                                    problem: "expected at most \(Bounds.labelValueLength) bytes without control characters")
                }
            }
        }
    }
}

/// The problems that a spec's validation found so far, in the order found.
struct SpecProblems {
    private(set) var problems: [SpecError] = []

    mutating func append(_ problem: SpecError) {
        problems.append(problem)
    }

    /// Runs one check and keeps the problem it throws.
    mutating func check(_ body: () throws(SpecError) -> Void) {
        do {
            try body()
        } catch {
            problems.append(error)
        }
    }
}

extension JobSpec.PerstackOptions {
    func validate(into found: inout SpecProblems) {
        found.check { () throws(SpecError) in
            try validateName(expert, field: "adapter.expert", rule: .expertName,
                             expected: "an expert key such as my-expert or @org/expert@1.0, starting with a letter, digit or '@'")
        }
        if query.contains("\0") {
            found.append(SpecError(field: "adapter.query", value: query, problem: "contains a NUL byte"))
        }
        if !config.hasPrefix("/") || config.contains("\0") || config.contains("\n") {
            found.append(SpecError(field: "adapter.config", value: config, problem: "expected an absolute path inside the image"))
        }
        for (field, value) in [("adapter.provider", provider), ("adapter.model", model)] {
            guard let value else { continue }
            found.check { () throws(SpecError) in
                try validateName(value, field: field, rule: .perstackIdentifier,
                                 expected: "letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit")
            }
        }
        if let maxSteps { found.check { () throws(SpecError) in try check(maxSteps, in: JobSpec.Bounds.perstackMaxSteps, field: "adapter.maxSteps") } }
        if let maxRetries { found.check { () throws(SpecError) in try check(maxRetries, in: JobSpec.Bounds.perstackMaxRetries, field: "adapter.maxRetries") } }
        if let modelTimeout { found.check { () throws(SpecError) in try check(modelTimeout, in: JobSpec.Bounds.timeout, field: "adapter.modelTimeout") } }
    }
}

private func check<Value: Comparable & CustomStringConvertible>(
    _ value: Value, in bounds: ClosedRange<Value>, field: String
) throws(SpecError) {
    guard bounds.contains(value) else {
        let problem = "out of range; expected \(bounds.lowerBound) to \(bounds.upperBound)"
        // Durations come from strings, and integers from JSON numbers.
        throw Value.self is any BinaryInteger.Type
            ? SpecError(field: field, number: value.description, problem: problem)
            : SpecError(field: field, value: value.description, problem: problem)
    }
}

/// Checks a size. A value under 1 KiB was most likely written without a unit,
/// so the message then explains that such a number counts bytes.
private func check(_ value: ByteSize, in bounds: ClosedRange<ByteSize>, field: String) throws(SpecError) {
    guard bounds.contains(value) else {
        let hint = value.bytes < 1024 ? " (a number, or a size without a unit, counts bytes)" : ""
        throw SpecError(field: field, value: value.description,
                        problem: "out of range; expected \(bounds.lowerBound) to \(bounds.upperBound)\(hint)")
    }
}

/// Checks a decimal number, such as CPUs or jitter, and writes it without a
/// fraction when it has none, as `0` rather than `0.0`.
private func check(_ value: Double, in bounds: ClosedRange<Double>, field: String) throws(SpecError) {
    func text(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
    guard bounds.contains(value) else {
        throw SpecError(field: field, number: text(value),
                        problem: "out of range; expected \(text(bounds.lowerBound)) to \(text(bounds.upperBound))")
    }
}

private func validateName(_ value: String, field: String, rule: NamePattern, expected: String) throws(SpecError) {
    guard rule.matches(value) else {
        throw SpecError(field: field, value: value, problem: "expected \(expected)")
    }
}

// Parsed once: submission checks several names in every spec of a batch.
extension NamePattern {
    fileprivate static let queueName = NamePattern(#"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"#)!
    fileprivate static let environmentName = NamePattern(#"^[A-Za-z_][A-Za-z0-9_]{0,127}$"#)!
    fileprivate static let labelKey = NamePattern(#"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$"#)!
    fileprivate static let expertName = NamePattern(#"^[A-Za-z0-9@][A-Za-z0-9@._/:-]{0,127}$"#)!
    fileprivate static let perstackIdentifier = NamePattern(#"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"#)!
}

extension String {
    var containsControlCharacter: Bool {
        unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }
}

extension SpecError {
    /// Turns a decoder's error into one that names the field in spec terms.
    init(decoding error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            self.init(field: context.codingPath.specPath(appending: key.stringValue), value: nil, problem: "is missing")
        case .typeMismatch(let type, let context):
            let expected = Self.expectedText(field: context.codingPath.last?.stringValue, type: type)
            self.init(field: context.codingPath.specPath(), value: nil, problem: "expected \(expected)")
        case .valueNotFound(let type, let context):
            self.init(field: context.codingPath.specPath(), value: nil, problem: "is null; expected \(Self.jsonTypeName(type))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                let cause = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
                self.init(field: "spec", value: nil, problem: "is not valid JSON: \(cause ?? context.debugDescription)")
            } else {
                self.init(field: context.codingPath.specPath(), value: nil, problem: context.debugDescription)
            }
        @unknown default:
            self.init(field: "spec", value: nil, problem: "\(error)")
        }
    }

    /// Returns what a field takes, in spec terms: durations and sizes are strings with units.
    private static func expectedText(field: String?, type: Any.Type) -> String {
        switch field {
        case "timeout", "initialDelay", "maxDelay", "modelTimeout":
            "a duration string with a unit (ms, s, m, h, d), such as \"30s\""
        case "memory", "workspaceDisk", "maxOutputBytes":
            "a size string with a unit (k, m, g, t), such as \"512m\""
        default:
            jsonTypeName(type)
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int32.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is [String].Type: "an array of strings"
        case is [String: String].Type: "an object of string values"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default: "a value of type \(type)"
        }
    }
}

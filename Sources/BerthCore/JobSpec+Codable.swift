import Foundation

// The JSON form of a job spec. Every object rejects fields it does not know,
// because a misspelt field silently ignored is a limit silently not applied.

extension JobSpec: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case image, command, env, secrets, queue, priority, limits, retry
        case idempotencyKey, runAt, labels, adapter, hold
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        image = try container.decode(String.self, forKey: .image)
        command = try container.decode([String].self, forKey: .command)
        env = try container.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        secrets = try container.decodeIfPresent([String].self, forKey: .secrets) ?? []
        queue = try container.decodeIfPresent(String.self, forKey: .queue) ?? Self.defaultQueue
        priority = try container.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        limits = try container.decodeIfPresent(Limits.self, forKey: .limits) ?? Limits()
        retry = try container.decodeIfPresent(RetryOverrides.self, forKey: .retry) ?? RetryOverrides()
        idempotencyKey = try container.decodeIfPresent(String.self, forKey: .idempotencyKey)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        adapter = try container.decodeIfPresent(Adapter.self, forKey: .adapter) ?? .generic
        hold = try container.decodeIfPresent(Bool.self, forKey: .hold) ?? false

        if let runAtText = try container.decodeIfPresent(String.self, forKey: .runAt) {
            runAt = try RunAtTime.parse(runAtText, field: "runAt")
        } else {
            runAt = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encode(command, forKey: .command)
        if !env.isEmpty { try container.encode(env, forKey: .env) }
        if !secrets.isEmpty { try container.encode(secrets, forKey: .secrets) }
        try container.encode(queue, forKey: .queue)
        try container.encode(priority, forKey: .priority)
        if limits != Limits() { try container.encode(limits, forKey: .limits) }
        if retry != RetryOverrides() { try container.encode(retry, forKey: .retry) }
        try container.encodeIfPresent(idempotencyKey, forKey: .idempotencyKey)
        try container.encodeIfPresent(runAt.map(RunAtTime.format), forKey: .runAt)
        if !labels.isEmpty { try container.encode(labels, forKey: .labels) }
        if adapter != .generic { try container.encode(adapter, forKey: .adapter) }
        if hold { try container.encode(hold, forKey: .hold) }
    }
}

extension JobSpec.Limits: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case memory, cpus, pids, timeout, workspaceDisk, maxOutputBytes
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        memory = try container.decodeIfPresent(ByteSize.self, forKey: .memory)
        cpus = try container.decodeIfPresent(Double.self, forKey: .cpus)
        pids = try container.decodeIfPresent(Int.self, forKey: .pids)
        timeout = try container.decodeIfPresent(TimeSpan.self, forKey: .timeout)
        workspaceDisk = try container.decodeIfPresent(ByteSize.self, forKey: .workspaceDisk)
        maxOutputBytes = try container.decodeIfPresent(ByteSize.self, forKey: .maxOutputBytes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(memory, forKey: .memory)
        try container.encodeIfPresent(cpus, forKey: .cpus)
        try container.encodeIfPresent(pids, forKey: .pids)
        try container.encodeIfPresent(timeout, forKey: .timeout)
        try container.encodeIfPresent(workspaceDisk, forKey: .workspaceDisk)
        try container.encodeIfPresent(maxOutputBytes, forKey: .maxOutputBytes)
    }
}

extension JobSpec.RetryOverrides: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttempts, initialDelay, maxDelay, multiplier, jitter, retryOn, neverRetryExitCodes
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxAttempts = try container.decodeIfPresent(Int.self, forKey: .maxAttempts)
        initialDelay = try container.decodeIfPresent(TimeSpan.self, forKey: .initialDelay)
        maxDelay = try container.decodeIfPresent(TimeSpan.self, forKey: .maxDelay)
        multiplier = try container.decodeIfPresent(Double.self, forKey: .multiplier)
        jitter = try container.decodeIfPresent(Double.self, forKey: .jitter)
        retryOn = try container.decodeIfPresent([String].self, forKey: .retryOn).map { names in
            try names.enumerated().map { index, name in
                guard let outcome = AttemptOutcome(rawValue: name) else {
                    throw SpecError(
                        field: decoder.codingPath.specPath(appending: "retryOn[\(index)]"), value: name,
                        problem: "unknown outcome; expected failed, out_of_memory, timed_out or lost")
                }
                return outcome
            }
        }
        neverRetryExitCodes = try container.decodeIfPresent([Int32].self, forKey: .neverRetryExitCodes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(maxAttempts, forKey: .maxAttempts)
        try container.encodeIfPresent(initialDelay, forKey: .initialDelay)
        try container.encodeIfPresent(maxDelay, forKey: .maxDelay)
        try container.encodeIfPresent(multiplier, forKey: .multiplier)
        try container.encodeIfPresent(jitter, forKey: .jitter)
        try container.encodeIfPresent(retryOn, forKey: .retryOn)
        try container.encodeIfPresent(neverRetryExitCodes, forKey: .neverRetryExitCodes)
    }
}

extension JobSpec.Adapter: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case type
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "generic":
            try decoder.rejectUnknownKeys(CodingKeys.self)
            self = .generic
        case "perstack":
            self = .perstack(try JobSpec.PerstackOptions(from: decoder))
        default:
            throw SpecError(
                field: decoder.codingPath.specPath(appending: "type"), value: type,
                problem: "unknown adapter; expected \"generic\" or \"perstack\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .generic:
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("generic", forKey: .type)
        case .perstack(let options):
            try options.encode(to: encoder)
        }
    }
}

extension JobSpec.PerstackOptions: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, expert, query, config, provider, model, maxSteps, maxRetries, modelTimeout
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        expert = try container.decode(String.self, forKey: .expert)
        query = try container.decode(String.self, forKey: .query)
        config = try container.decodeIfPresent(String.self, forKey: .config) ?? Self.defaultConfig
        provider = try container.decodeIfPresent(String.self, forKey: .provider)
        model = try container.decodeIfPresent(String.self, forKey: .model)
        maxSteps = try container.decodeIfPresent(Int.self, forKey: .maxSteps)
        maxRetries = try container.decodeIfPresent(Int.self, forKey: .maxRetries)
        modelTimeout = try container.decodeIfPresent(TimeSpan.self, forKey: .modelTimeout)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("perstack", forKey: .type)
        try container.encode(expert, forKey: .expert)
        try container.encode(query, forKey: .query)
        try container.encode(config, forKey: .config)
        try container.encodeIfPresent(provider, forKey: .provider)
        try container.encodeIfPresent(model, forKey: .model)
        try container.encodeIfPresent(maxSteps, forKey: .maxSteps)
        try container.encodeIfPresent(maxRetries, forKey: .maxRetries)
        try container.encodeIfPresent(modelTimeout, forKey: .modelTimeout)
    }
}

/// A coding key for any field name, used to list the fields actually present.
public struct AnyCodingKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int?

    public init(stringValue: String) {
        self.stringValue = stringValue
    }

    public init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

extension Decoder {
    /// Throws `DecodingError.dataCorrupted` at the first field of this object
    /// that `Key` does not list, so a misspelt field is never silently ignored.
    ///
    /// `Key(stringValue:)` must accept exactly the names of `Key.allCases`, as
    /// the synthesized initializer of a `String` coding-key enum does. The set
    /// of names is built only for the error, because building it for every
    /// object slowed down batch submission.
    public func rejectUnknownKeys<Key: CodingKey & CaseIterable>(_ keys: Key.Type) throws {
        let container = try container(keyedBy: AnyCodingKey.self)
        let unknownKeys = container.allKeys.filter { Key(stringValue: $0.stringValue) == nil }
        guard !unknownKeys.isEmpty else { return }
        let known = Set(Key.allCases.map(\.stringValue))
        let unknown = unknownKeys.sorted { $0.stringValue < $1.stringValue }
        if let first = unknown.first {
            let list = known.sorted().joined(separator: ", ")
            let description = KeySuggestion.closest(to: first.stringValue, among: Array(known))
                .map { "unknown field; did you mean \($0)? Valid fields here are \(list)" } ?? "unknown field; valid fields here are \(list)"
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: codingPath + [first], debugDescription: description))
        }
    }
}

extension Array where Element == any CodingKey {
    /// The path written as in the spec: `limits.memory`, `command[2]`.
    public func specPath(appending last: String? = nil) -> String {
        var path = ""
        for key in self {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        if let last {
            path += path.isEmpty ? last : ".\(last)"
        }
        return path.isEmpty ? "spec" : path
    }
}

/// Parsing and formatting of run-at times: ISO 8601 with an explicit zone in,
/// UTC with milliseconds out.
public enum RunAtTime {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    /// Parses `text` into Unix milliseconds; throws a `SpecError` naming `field`.
    public static func parse(_ text: String, field: String) throws(SpecError) -> Int64 {
        let hasZone = text.hasSuffix("Z") || text.hasSuffix("z")
            || text.range(of: #"[+-]\d{2}(:?\d{2})?$"#, options: .regularExpression) != nil
        guard text.contains("T"), hasZone else {
            throw SpecError(
                field: field, value: text,
                problem: "expected an ISO 8601 date and time with a zone, such as 2026-12-04T09:30:00Z or 2026-12-04T18:30:00+09:00")
        }
        let date = (try? withFraction.parse(text)) ?? (try? withoutFraction.parse(text))
        // The parser rolls an impossible day such as February 30 over into
        // the next month instead of rejecting it.
        guard let date, hasValidCalendarDate(text) else {
            throw SpecError(
                field: field, value: text,
                problem: "not a valid ISO 8601 date and time; expected a form such as 2026-12-04T09:30:00Z")
        }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// Whether the `YYYY-MM-DD` that starts `text` names a day that exists.
    private static func hasValidCalendarDate(_ text: String) -> Bool {
        let parts = text.prefix(10).split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), parts[2] >= 1 else { return false }
        let (year, month, day) = (parts[0], parts[1], parts[2])
        let isLeapYear = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let daysInMonth = [31, isLeapYear ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= daysInMonth
    }

    /// Formats Unix milliseconds as UTC with exactly three fraction digits.
    public static func format(_ milliseconds: Int64) -> String {
        // The fraction is written from the integer, because formatting a Date
        // truncates its binary fraction: 0.007 s came out as .006.
        var (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        if fraction < 0 {
            seconds -= 1
            fraction += 1000
        }
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(withoutFraction)
        let digits = String(fraction)
        return whole.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}

import BerthCore
import Foundation

/// One JSON object of the configuration file, read key by key.
///
/// Each read removes its key; `finish()` then rejects any key left over, so a
/// misspelt key stops the daemon instead of being ignored.
final class ConfigurationObject {
    private var remaining: [String: JSONValue]
    let path: String
    let file: String

    init(_ dictionary: [String: JSONValue], path: String, file: String) {
        self.remaining = dictionary
        self.path = path
        self.file = file
    }

    func keyPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    func error(_ key: String, _ problem: String) -> ConfigurationError {
        ConfigurationError(file: file, keyPath: keyPath(key), problem: problem)
    }

    /// Removes and returns the value of `key`; an explicit null counts as absent.
    private func take(_ key: String) -> JSONValue? {
        guard let value = remaining.removeValue(forKey: key), value != .null else { return nil }
        return value
    }

    func string(_ key: String) throws -> String? {
        guard let value = take(key) else { return nil }
        guard case .string(let text) = value else { throw error(key, "expected a string, found \(value.summary)") }
        return text
    }

    func strings(_ key: String) throws -> [String]? {
        guard let value = take(key) else { return nil }
        guard case .array(let list) = value else { throw error(key, "expected an array of strings, found \(value.summary)") }
        return try list.enumerated().map { index, element in
            guard case .string(let text) = element else {
                throw error("\(key)[\(index)]", "expected a string, found \(element.summary)")
            }
            return text
        }
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = take(key) else { return nil }
        guard case .bool(let bool) = value else { throw error(key, "expected true or false, found \(value.summary)") }
        return bool
    }

    func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = take(key) else { return nil }
        guard case .number(let number) = value, let integer = Int(exactly: number) else {
            throw error(key, "expected an integer from \(range.lowerBound) to \(range.upperBound), found \(value.summary)")
        }
        guard range.contains(integer) else {
            throw error(key, "\(integer) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
        }
        return integer
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let value = take(key) else { return nil }
        guard case .number(let number) = value, number.isFinite else {
            throw error(key, "expected a number from \(range.lowerBound) to \(range.upperBound), found \(value.summary)")
        }
        guard range.contains(number) else {
            throw error(key, "\(number) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func duration(_ key: String, in range: ClosedRange<TimeSpan>) throws -> TimeSpan? {
        guard let value = take(key) else { return nil }
        let expected = "expected a string with a unit (ms, s, m, h, d), such as \"30s\""
        guard case .string(let text) = value else {
            // A bare number has no unit, and guessing seconds or milliseconds would be wrong half the time.
            throw error(key, "\(value.summary) is not a duration; \(expected)")
        }
        guard let span = TimeSpan(parsing: text) else {
            throw error(key, "\"\(text)\" is not a duration; \(expected)")
        }
        guard range.contains(span) else {
            throw error(key, "\(span) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
        }
        return span
    }

    func size(_ key: String, in range: ClosedRange<ByteSize>) throws -> ByteSize? {
        guard let value = take(key) else { return nil }
        let size: ByteSize?
        switch value {
        case .string(let text):
            size = ByteSize(parsing: text)
        case .number(let number):
            size = Int64(exactly: number).flatMap { $0 >= 0 ? ByteSize(bytes: $0) : nil }
        default:
            size = nil
        }
        guard let size else {
            throw error(key, "\(value.summary) is not a size; expected a number with k, m, g or t, such as 512m")
        }
        guard range.contains(size) else {
            throw error(key, "\(size) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
        }
        return size
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, _ type: Choice.Type) throws -> Choice? where Choice.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            throw error(key, "\"\(text)\" is not valid; expected one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    func object(_ key: String) throws -> ConfigurationObject? {
        guard let value = take(key) else { return nil }
        guard case .object(let dictionary) = value else { throw error(key, "expected an object, found \(value.summary)") }
        return ConfigurationObject(dictionary, path: keyPath(key), file: file)
    }

    /// The keys still unread, for objects whose keys are names (such as queues).
    var remainingKeys: [String] { remaining.keys.sorted() }

    /// Rejects every key that no read asked for.
    func finish(validKeys: [String]) throws {
        if let unknown = remaining.keys.sorted().first {
            throw error(unknown, "unknown key; valid keys here are \(validKeys.sorted().joined(separator: ", "))")
        }
    }
}

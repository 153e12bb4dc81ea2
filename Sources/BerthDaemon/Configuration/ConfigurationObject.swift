import BerthCore
import Foundation

/// One JSON object of the configuration file, read key by key.
///
/// Each read removes its key; `finish()` then reports any key left over, so a
/// misspelt key stops the daemon instead of being ignored. A read that finds an
/// invalid value reports it to `problems` and returns nil, so the caller keeps
/// the default and reading goes on to find the file's other problems.
final class ConfigurationObject {
    private var remaining: [String: JSONValue]
    let path: JSONKeyPath
    private let problems: ConfigurationProblems

    init(_ dictionary: [String: JSONValue], path: JSONKeyPath, problems: ConfigurationProblems) {
        self.remaining = dictionary
        self.path = path
        self.problems = problems
    }

    func keyPath(_ key: String) -> JSONKeyPath {
        path.appending(key)
    }

    /// Records that the value of `key` is invalid; `message` names the value found and what is valid.
    func report(_ key: String, _ message: String) {
        problems.add(message, at: keyPath(key))
    }

    /// Records that element `index` of the array under `key` is invalid.
    func report(_ key: String, at index: Int, _ message: String) {
        problems.add(message, at: keyPath(key).appending(index: index))
    }

    /// Returns whether a problem was reported for `key`, so checks that
    /// compare two keys can skip a value that was already rejected.
    func hasProblem(_ key: String) -> Bool {
        problems.contains(keyPath(key))
    }

    /// Removes and returns the value of `key`; an explicit null counts as absent.
    private func take(_ key: String) -> JSONValue? {
        guard let value = remaining.removeValue(forKey: key), value != .null else { return nil }
        return value
    }

    func string(_ key: String) -> String? {
        guard let value = take(key) else { return nil }
        guard case .string(let text) = value else {
            report(key, "expected a string, found \(value.summary)")
            return nil
        }
        return text
    }

    /// Reads an array of strings; any element that is not a string is reported and the whole array is rejected.
    func strings(_ key: String) -> [String]? {
        guard let value = take(key) else { return nil }
        guard case .array(let list) = value else {
            report(key, "expected an array of strings, found \(value.summary)")
            return nil
        }
        var texts: [String] = []
        for (index, element) in list.enumerated() {
            guard case .string(let text) = element else {
                report(key, at: index, "expected a string, found \(element.summary)")
                continue
            }
            texts.append(text)
        }
        return texts.count == list.count ? texts : nil
    }

    func bool(_ key: String) -> Bool? {
        guard let value = take(key) else { return nil }
        guard case .bool(let bool) = value else {
            report(key, "expected true or false, found \(value.summary)")
            return nil
        }
        return bool
    }

    func integer(_ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = take(key) else { return nil }
        guard case .number(let number) = value, let integer = Int(exactly: number) else {
            report(key, "expected an integer from \(range.lowerBound) to \(range.upperBound), found \(value.summary)")
            return nil
        }
        guard range.contains(integer) else {
            report(key, "\(integer) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return integer
    }

    func number(_ key: String, in range: ClosedRange<Double>) -> Double? {
        guard let value = take(key) else { return nil }
        guard case .number(let number) = value, number.isFinite else {
            report(key, "expected a number from \(range.lowerBound) to \(range.upperBound), found \(value.summary)")
            return nil
        }
        guard range.contains(number) else {
            report(key, "\(number) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return number
    }

    func duration(_ key: String, in range: ClosedRange<TimeSpan>) -> TimeSpan? {
        guard let value = take(key) else { return nil }
        let expected = "expected a string with a unit (ms, s, m, h, d), such as \"30s\""
        guard case .string(let text) = value else {
            // A bare number has no unit, and guessing seconds or milliseconds would be wrong half the time.
            report(key, "\(value.summary) is not a duration; \(expected)")
            return nil
        }
        guard let span = TimeSpan(parsing: text) else {
            report(key, "\"\(text)\" is not a duration; \(expected)")
            return nil
        }
        guard range.contains(span) else {
            report(key, "\(span) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return span
    }

    func size(_ key: String, in range: ClosedRange<ByteSize>) -> ByteSize? {
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
            report(key, "\(value.summary) is not a size; expected a number with k, m, g or t, such as 512m")
            return nil
        }
        guard range.contains(size) else {
            report(key, "\(size) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return size
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, _ type: Choice.Type) -> Choice? where Choice.RawValue == String {
        guard let text = string(key) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            report(key, "\"\(text)\" is not valid; expected one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return choice
    }

    func object(_ key: String) -> ConfigurationObject? {
        guard let value = take(key) else { return nil }
        guard case .object(let dictionary) = value else {
            report(key, "expected an object, found \(value.summary)")
            return nil
        }
        return ConfigurationObject(dictionary, path: keyPath(key), problems: problems)
    }

    /// The keys still unread, for objects whose keys are names (such as queues).
    var remainingKeys: [String] { remaining.keys.sorted() }

    /// Reports every key that no read asked for, with the closest valid key when one is near.
    func finish(validKeys: [String]) {
        let list = validKeys.sorted().joined(separator: ", ")
        for unknown in remaining.keys.sorted() {
            if let suggestion = KeySuggestion.closest(to: unknown, among: validKeys) {
                report(unknown, "unknown key; did you mean \(suggestion)? Valid keys here are \(list)")
            } else {
                report(unknown, "unknown key; valid keys here are \(list)")
            }
        }
        remaining = [:]
    }
}

/// The problems found while reading one configuration file, in the order found.
final class ConfigurationProblems {
    private(set) var items: [(path: JSONKeyPath, message: String)] = []
    private var paths: Set<JSONKeyPath> = []

    var isEmpty: Bool { items.isEmpty }

    func add(_ message: String, at path: JSONKeyPath) {
        items.append((path, message))
        paths.insert(path)
    }

    func contains(_ path: JSONKeyPath) -> Bool {
        paths.contains(path)
    }
}

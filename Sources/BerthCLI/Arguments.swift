import BerthCore

/// An option a command accepts, with the help line that documents it.
struct OptionDefinition: Sendable {
    let name: String
    /// Placeholder for the value in help, such as `SIZE`; nil for a flag.
    let valueName: String?
    let repeatable: Bool
    let help: String

    static func flag(_ name: String, _ help: String) -> OptionDefinition {
        OptionDefinition(name: name, valueName: nil, repeatable: false, help: help)
    }

    static func value(_ name: String, _ valueName: String, _ help: String, repeatable: Bool = false) -> OptionDefinition {
        OptionDefinition(name: name, valueName: valueName, repeatable: repeatable, help: help)
    }
}

/// A command line that could not be understood; exits with status 64.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    /// Further problems of the same input, each printed on a line of its own.
    var additionalMessages: [String] = []
    /// The command whose help the user should read.
    let command: String?

    init(_ message: String, command: String? = nil) {
        self.message = message
        self.command = command
    }

    /// Creates one error for several problems of one input, such as every invalid field of a spec.
    init(messages: [String], command: String? = nil) {
        self.init(messages.first ?? "invalid input", command: command)
        additionalMessages = Array(messages.dropFirst())
    }

    var description: String { ([message] + additionalMessages).joined(separator: "\n") }
}

/// The options, positional arguments and trailing arguments (after `--`) of one command.
struct ParsedArguments {
    private(set) var values: [String: [String]] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positionals: [String] = []
    /// Arguments after `--`, taken literally; nil when there was no `--`.
    private(set) var trailing: [String]? = nil

    /// Parses `arguments` against `definitions`. `--name value` and
    /// `--name=value` are both accepted; everything after `--` is kept verbatim.
    init(_ arguments: [String], definitions: [OptionDefinition], command: String) throws(UsageError) {
        let byName = Dictionary(uniqueKeysWithValues: definitions.map { ($0.name, $0) })
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1

            if argument == "--" {
                trailing = Array(arguments[index...])
                return
            }
            guard argument.hasPrefix("--"), argument.count > 2 else {
                if argument.hasPrefix("-"), argument != "-" {
                    throw UsageError("unknown option \(argument); options are spelled with two dashes, such as --help", command: command)
                }
                positionals.append(argument)
                continue
            }

            var name = String(argument.dropFirst(2))
            var inlineValue: String? = nil
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let definition = byName[name] else {
                let suggestion = KeySuggestion.closest(to: name, among: definitions.map(\.name)).map { "; did you mean --\($0)?" } ?? ""
                throw UsageError("unknown option --\(name) for `berth \(command)`\(suggestion)", command: command)
            }

            guard let valueName = definition.valueName else {
                if inlineValue != nil {
                    throw UsageError("--\(name) is a flag and takes no value", command: command)
                }
                flags.insert(name)
                continue
            }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else {
                guard index < arguments.count else {
                    throw UsageError("--\(name) needs a value (\(valueName))", command: command)
                }
                value = arguments[index]
                index += 1
            }
            if !definition.repeatable, values[name] != nil {
                throw UsageError("--\(name) is given twice; it takes one value", command: command)
            }
            values[name, default: []].append(value)
        }
    }

    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }
    func has(_ name: String) -> Bool { flags.contains(name) || values[name] != nil }
}

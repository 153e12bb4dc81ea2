import Foundation

/// An operator's answer to a waiting job, stored as JSON in `jobs.input_answer`.
public struct InputAnswer: Codable, Sendable, Equatable {
    /// The checkpoint (checkpoints.id) at which the run stopped for input.
    public var checkpoint: Int64
    /// A plain-text answer, given with `berth answer --text`.
    public var text: String?
    /// A JSON answer, given with `berth answer --json`, as its text.
    public var json: String?

    public init(checkpoint: Int64, text: String? = nil, json: String? = nil) {
        self.checkpoint = checkpoint
        self.text = text
        self.json = json
    }

    /// The answer as the program receives it.
    public var value: String { text ?? json ?? "" }

    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings and an integer always encode.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Decodes a stored answer; nil for text that is not one.
    public static func decode(_ stored: String?) -> InputAnswer? {
        guard let stored else { return nil }
        return try? JSONDecoder().decode(InputAnswer.self, from: Data(stored.utf8))
    }
}

/// What a waiting job waits for, stored as JSON in `jobs.pending_input`.
public struct PendingInput: Codable, Sendable, Equatable {
    /// One tool call the run waits on.
    public struct ToolCall: Codable, Sendable, Equatable {
        public var id: String?
        public var skillName: String?
        public var toolName: String?
        /// The call's arguments as JSON text.
        public var arguments: String?

        public init(id: String?, skillName: String?, toolName: String?, arguments: String?) {
            self.id = id
            self.skillName = skillName
            self.toolName = toolName
            self.arguments = arguments
        }
    }

    public var adapter: String
    /// The name of the checkpoint file at which the run stopped.
    public var checkpoint: String
    public var expert: String?
    public var toolCalls: [ToolCall]

    public init(adapter: String, checkpoint: String, expert: String?, toolCalls: [ToolCall]) {
        self.adapter = adapter
        self.checkpoint = checkpoint
        self.expert = expert
        self.toolCalls = toolCalls
    }

    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ stored: String?) -> PendingInput? {
        guard let stored else { return nil }
        return try? JSONDecoder().decode(PendingInput.self, from: Data(stored.utf8))
    }
}

import Foundation

/// Any JSON value, decoded without a schema so the configuration reader can
/// report the exact key and type of every mistake.
enum JSONValue: Decodable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses JSON5: JSON with comments, trailing commas, unquoted keys and more.
    static func parseJSON5(_ data: Data) throws -> JSONValue {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        return try decoder.decode(JSONValue.self, from: data)
    }

    /// A short description of the value's type and content, for error messages.
    var summary: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string(let text): "the string \"\(text.prefix(60))\""
        case .number(let number):
            if let whole = Int64(exactly: number) { "the number \(whole)" } else { "the number \(number)" }
        case .bool(let bool): "\(bool)"
        case .null: "null"
        }
    }
}

/// The location of a value in a JSON or JSON5 document: object keys and array
/// indexes from the top-level object down, such as `engine.extraRunFlags[0]`
/// in the daemon's configuration.
///
/// The components stay separate because a queue name may contain a dot, so
/// the dotted text alone cannot be split back into keys.
public struct JSONKeyPath: Hashable, Sendable, CustomStringConvertible {
    public enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component] = []

    public init() {}

    public var isEmpty: Bool { components.isEmpty }

    public func appending(_ key: String) -> JSONKeyPath {
        var path = self
        path.components.append(.key(key))
        return path
    }

    public func appending(index: Int) -> JSONKeyPath {
        var path = self
        path.components.append(.index(index))
        return path
    }

    /// The path without its last component; the empty path stays empty.
    public var parent: JSONKeyPath {
        var path = self
        path.components = components.dropLast()
        return path
    }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                text += text.isEmpty ? key : ".\(key)"
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }
}

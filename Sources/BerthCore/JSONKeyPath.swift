/// The location of a value in the configuration file: object keys and array
/// indexes from the top-level object down, such as `engine.extraRunFlags[0]`.
///
/// The components stay separate because a queue name may contain a dot, so
/// the dotted text alone cannot be split back into keys.
struct ConfigurationKeyPath: Hashable, Sendable, CustomStringConvertible {
    enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    private(set) var components: [Component] = []

    var isEmpty: Bool { components.isEmpty }

    func appending(_ key: String) -> ConfigurationKeyPath {
        var path = self
        path.components.append(.key(key))
        return path
    }

    func appending(index: Int) -> ConfigurationKeyPath {
        var path = self
        path.components.append(.index(index))
        return path
    }

    /// The path without its last component; the empty path stays empty.
    var parent: ConfigurationKeyPath {
        var path = self
        path.components = components.dropLast()
        return path
    }

    var description: String {
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

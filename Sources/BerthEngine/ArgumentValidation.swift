/// Checks for values that berth places among the engine's own flags.
///
/// Every accepted value starts with a letter, digit or '_', so none can be
/// read as a flag, and none contains a control character.
enum ArgumentValidation {
    /// Returns whether `text` is a container name as docker accepts it: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters.
    static func isContainerName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.unicodeScalars.count <= 128, isAlphanumeric(first) else {
            return false
        }
        return text.unicodeScalars.allSatisfy { isAlphanumeric($0) || "_.-".unicodeScalars.contains($0) }
    }

    /// Returns whether `text` is a container id or name, as passed to start, inspect and the other calls.
    static func isContainerReference(_ text: String) -> Bool {
        isContainerName(text)
    }

    /// Returns whether `text` is an environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    static func isEnvironmentName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, isAlphabetic(first) || first == "_" else { return false }
        return text.unicodeScalars.allSatisfy { isAlphanumeric($0) || $0 == "_" }
    }

    /// Returns whether `text` is a label key: letters, digits, '.', '_', '-' and '/', starting with a letter or digit.
    static func isLabelKey(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= 256, isAlphanumeric(first) else { return false }
        return text.unicodeScalars.allSatisfy { isAlphanumeric($0) || "._-/".unicodeScalars.contains($0) }
    }

    /// Returns whether `text` is a user for `--user`: a name or number, optionally followed by `:group`.
    static func isUser(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        return parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, part.utf8.count <= 64, isAlphanumeric(first) || first == "_" else {
                return false
            }
            return part.unicodeScalars.allSatisfy { isAlphanumeric($0) || "_.-".unicodeScalars.contains($0) }
        }
    }

    /// Returns whether `text` is a network name such as `none`, `host` or `bridge`.
    ///
    /// The forms `container:<id>` and `ns:<path>` are rejected, because they
    /// would join another container's or an arbitrary network namespace.
    static func isNetworkName(_ text: String) -> Bool {
        isContainerName(text)
    }

    /// Returns whether `text` contains a control character, NUL and newline included.
    static func containsControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    private static func isAlphabetic(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        isAlphabetic(scalar) || ("0"..."9").contains(scalar)
    }
}

import BerthCore
import Testing

/// The checks of `ImageReference` as they were written over `Character`s,
/// kept as the model that the byte-based checks must match message for message.
enum CharacterImageReference {
    static let maximumLength = ImageReference.maximumLength

    static func problem(with reference: String) -> String? {
        guard !reference.isEmpty else { return "is empty" }
        guard reference.utf8.count <= maximumLength else { return "is longer than \(maximumLength) bytes" }
        guard reference.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) else {
            return "contains a space, a control character or a non-ASCII character"
        }

        var remainder = Substring(reference)
        if let at = remainder.firstIndex(of: "@") {
            guard isDigest(remainder[remainder.index(after: at)...]) else {
                return "has an invalid digest after @; expected algorithm:hex, such as sha256:<64 hex digits>"
            }
            remainder = remainder[..<at]
        }

        var components = remainder.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = components.popLast() else { return "is empty" }
        var name = last
        if let colon = last.firstIndex(of: ":") {
            guard isTag(last[last.index(after: colon)...]) else {
                return "has an invalid tag; a tag is up to 128 letters, digits, '_', '.' or '-' and starts with a letter, digit or '_'"
            }
            name = last[..<colon]
        }
        components.append(name)

        if components.count > 1, isRegistry(components[0]) {
            components.removeFirst()
        }
        for component in components where !isPathComponent(component) {
            return "has an invalid name component \"\(component)\"; use lowercase letters and digits separated by '.', '_', '__' or '-'"
        }
        return nil
    }

    private static func isLowercaseAlphanumeric(_ character: Character) -> Bool {
        character.isASCII && (character.isNumber || character.isLowercase)
    }

    private static func isPathComponent(_ component: Substring) -> Bool {
        guard let first = component.first, let last = component.last,
              isLowercaseAlphanumeric(first), isLowercaseAlphanumeric(last)
        else { return false }
        var previousSeparator: Character? = nil
        for character in component {
            if isLowercaseAlphanumeric(character) {
                previousSeparator = nil
                continue
            }
            switch (character, previousSeparator) {
            case (".", nil), ("_", nil), ("-", nil), ("_", "_"), ("-", "-"):
                break
            default:
                return false
            }
            previousSeparator = character
        }
        return !component.contains("___")
    }

    /// A first component is a registry when it has a dot or a port, or is `localhost`.
    private static func isRegistry(_ component: Substring) -> Bool {
        guard component == "localhost" || component.contains(".") || component.contains(":") else { return false }
        var host = component
        if let colon = component.firstIndex(of: ":") {
            let port = component[component.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            host = component[..<colon]
        }
        guard let first = host.first, first.isASCII, first.isLetter || first.isNumber else { return false }
        return host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }
    }

    private static func isTag(_ tag: Substring) -> Bool {
        guard let first = tag.first, tag.count <= 128, first.isASCII, first.isLetter || first.isNumber || first == "_" else {
            return false
        }
        return tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") }
    }

    private static func isDigest(_ digest: Substring) -> Bool {
        guard let colon = digest.firstIndex(of: ":") else { return false }
        let algorithm = digest[..<colon]
        let hex = digest[digest.index(after: colon)...]
        guard let first = algorithm.first, isLowercaseAlphanumeric(first) else { return false }
        return algorithm.allSatisfy { isLowercaseAlphanumeric($0) || "+._-".contains($0) }
            && hex.count >= 32
            && hex.allSatisfy(\.isHexDigit)
    }
}

struct ImageReferenceModelTests {
    /// Characters that reach every branch of the grammar, with a few that no reference may hold.
    static let alphabet: [Character] = Array("ab9Z_.-/:@+lochstf ") + ["\u{7f}", "é", "\t"]

    @Test func matchesCharacterModelOnRandomInputs() {
        var generator = SystemRandomNumberGenerator()
        var mismatches: [String] = []
        for _ in 0..<50_000 {
            let length = Int.random(in: 1...24, using: &generator)
            let reference = String((0..<length).map { _ in Self.alphabet.randomElement(using: &generator)! })
            let found = ImageReference.problem(with: reference)
            if found != CharacterImageReference.problem(with: reference) {
                mismatches.append("\(reference): \(found ?? "nil")")
            }
        }

        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    static let structured: [String] = [
        "localhost", "localhost/a", "localhost:1/a", "LOCALHOST/a", "a.b/c", "a.b:/c", "a.b:123456/c", "a:1/b:2",
        "-a.b/c", "a.b-/c", "a.b/c:_t", "a@sha256:" + String(repeating: "F", count: 32), "a@Sha256:" + String(repeating: "f", count: 32),
        "a@s+h._-a:" + String(repeating: "0", count: 31), "a@:" + String(repeating: "0", count: 32), "a@@", "a:b:c", "a:b/c",
        "a___b", "a__b", "a---b", "a.-b", "a-.b", "a..b", "a_.b", "@", "/", ":", "a/", "a:tag@",
    ]

    @Test(arguments: structured)
    func matchesCharacterModel(reference: String) {
        #expect(ImageReference.problem(with: reference) == CharacterImageReference.problem(with: reference))
    }
}

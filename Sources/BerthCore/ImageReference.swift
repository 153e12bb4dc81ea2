/// Checks image references against the grammar that docker and podman accept:
/// `[registry[:port]/]path[:tag][@algorithm:digest]`.
///
/// Because every accepted reference starts with a letter or digit, an image can
/// never be read by the engine as one of its own flags.
///
/// The checks read UTF-8 bytes, because iterating `Character`s took a sixth of
/// the time of `berth submit --file`. After the first check every byte is
/// printable ASCII, so each byte is one character of the reference.
public enum ImageReference {
    public static let maximumLength = 512

    typealias Bytes = Slice<UnsafeBufferPointer<UInt8>>

    /// Returns nil when `reference` is valid, or the reason it is not.
    public static func problem(with reference: String) -> String? {
        guard !reference.isEmpty else { return "is empty" }
        guard reference.utf8.count <= maximumLength else { return "is longer than \(maximumLength) bytes" }
        var reference = reference
        return reference.withUTF8 { buffer in
            problem(withBytes: buffer[...])
        }
    }

    private static func problem(withBytes reference: Bytes) -> String? {
        guard reference.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return "contains a space, a control character or a non-ASCII character"
        }

        var remainder = reference
        if let at = remainder.firstIndex(of: UInt8(ascii: "@")) {
            guard isDigest(remainder[(at + 1)...]) else {
                return "has an invalid digest after @; expected algorithm:hex, such as sha256:<64 hex digits>"
            }
            remainder = remainder[..<at]
        }

        var components = remainder.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard let last = components.popLast() else { return "is empty" }
        var name = last
        if let colon = last.firstIndex(of: UInt8(ascii: ":")) {
            guard isTag(last[(colon + 1)...]) else {
                return "has an invalid tag; a tag is up to 128 letters, digits, '_', '.' or '-' and starts with a letter, digit or '_'"
            }
            name = last[..<colon]
        }
        components.append(name)

        if components.count > 1, isRegistry(components[0]) {
            components.removeFirst()
        }
        for component in components where !isPathComponent(component) {
            let text = String(decoding: component, as: UTF8.self)
            return "has an invalid name component \"\(text)\"; use lowercase letters and digits separated by '.', '_', '__' or '-'"
        }
        return nil
    }

    private static func isLowercaseAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        isLowercaseAlphanumeric(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }

    /// Checks that a path component is lowercase letters and digits,
    /// separated by one '.', one or two '_', or any number of '-'.
    private static func isPathComponent(_ component: Bytes) -> Bool {
        guard let first = component.first, let last = component.last,
              isLowercaseAlphanumeric(first), isLowercaseAlphanumeric(last)
        else { return false }
        var previousSeparator: UInt8? = nil
        var underscores = 0
        for byte in component {
            underscores = byte == UInt8(ascii: "_") ? underscores + 1 : 0
            guard underscores < 3 else { return false }
            if isLowercaseAlphanumeric(byte) {
                previousSeparator = nil
                continue
            }
            switch (byte, previousSeparator) {
            case (UInt8(ascii: "."), nil), (UInt8(ascii: "_"), nil), (UInt8(ascii: "-"), nil),
                 (UInt8(ascii: "_"), UInt8(ascii: "_")), (UInt8(ascii: "-"), UInt8(ascii: "-")):
                break
            default:
                return false
            }
            previousSeparator = byte
        }
        return true
    }

    /// A first component is a registry when it has a dot or a port, or is `localhost`.
    private static func isRegistry(_ component: Bytes) -> Bool {
        let hasDotOrColon = component.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }
        guard hasDotOrColon || component.elementsEqual("localhost".utf8) else { return false }
        var host = component
        if let colon = component.firstIndex(of: UInt8(ascii: ":")) {
            let port = component[(colon + 1)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(isDigit) else { return false }
            host = component[..<colon]
        }
        guard let first = host.first, isLetterOrDigit(first) else { return false }
        return host.allSatisfy { isLetterOrDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isTag(_ tag: Bytes) -> Bool {
        guard let first = tag.first, tag.count <= 128, isLetterOrDigit(first) || first == UInt8(ascii: "_") else {
            return false
        }
        return tag.allSatisfy {
            isLetterOrDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isDigest(_ digest: Bytes) -> Bool {
        guard let colon = digest.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let algorithm = digest[..<colon]
        let hex = digest[(colon + 1)...]
        guard let first = algorithm.first, isLowercaseAlphanumeric(first) else { return false }
        let algorithmSeparators: [UInt8] = Array("+._-".utf8)
        return algorithm.allSatisfy { isLowercaseAlphanumeric($0) || algorithmSeparators.contains($0) }
            && hex.count >= 32
            && hex.allSatisfy(isHexDigit)
    }
}

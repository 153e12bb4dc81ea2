/// Rules for the names of checkpoint files, which the job chooses and the
/// daemon must never trust.
public enum CheckpointName {
    /// Longest accepted name in bytes, the usual `NAME_MAX` of Linux file systems.
    public static let maximumBytes = 255

    /// Why `name` (raw bytes from the directory) cannot name a checkpoint, or
    /// nil when it can.
    ///
    /// A name must be valid UTF-8, non-empty, neither `.` nor `..`, and free of
    /// path separators and control characters (C0, DEL and C1), so that it can
    /// be stored, printed and used as one path component.
    public static func problem(with name: [UInt8]) -> String? {
        if name.isEmpty { return "the name is empty" }
        if name.count > maximumBytes { return "the name is longer than \(maximumBytes) bytes" }
        if name == [0x2e] || name == [0x2e, 0x2e] { return "the name is . or .." }
        if name.contains(0x2f) { return "the name contains a path separator (/)" }
        guard let text = String(validating: name, as: UTF8.self) else {
            return "the name is not valid UTF-8"
        }
        if text.unicodeScalars.contains(where: isControl) {
            return "the name contains a control character"
        }
        return nil
    }

    /// `problem(with:)` for a name given as text, such as `berth resume --from`.
    public static func problem(with name: String) -> String? {
        problem(with: Array(name.utf8))
    }

    /// The name for storing and printing: control characters and bytes that
    /// are not UTF-8 become `\xNN` escapes, so a refused name can be shown safely.
    public static func display(_ name: [UInt8]) -> String {
        var result = ""
        var index = 0
        while index < name.count {
            let length = sequenceLength(name, at: index)
            if length > 0, let scalar = String(validating: name[index..<(index + length)], as: UTF8.self)?.unicodeScalars.first,
               !isControl(scalar), scalar != "\\" {
                result.unicodeScalars.append(scalar)
                index += length
                continue
            }
            if length > 0 {
                // A valid control character or backslash: escape each of its bytes.
                for byte in name[index..<(index + length)] { result += escape(byte) }
                index += length
            } else {
                result += escape(name[index])
                index += 1
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
    }

    private static func escape(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xf)])
    }

    /// The length of the well-formed UTF-8 sequence at `index`, or 0 when the
    /// bytes there are not one.
    private static func sequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let first = bytes[index]
        let length: Int
        switch first {
        case 0x00...0x7f: return 1
        case 0xc2...0xdf: length = 2
        case 0xe0...0xef: length = 3
        case 0xf0...0xf4: length = 4
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        return String(validating: bytes[index..<(index + length)], as: UTF8.self) == nil ? 0 : length
    }
}

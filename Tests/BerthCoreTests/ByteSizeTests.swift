import BerthCore
import Foundation
import Testing

struct ByteSizeTests {
    static let parsed: [(text: String, bytes: Int64)] = [
        ("0", 0),
        ("1", 1),
        ("1048576", 1 << 20),
        ("512b", 512),
        ("1k", 1024),
        ("1kb", 1024),
        ("1ki", 1024),
        ("1kib", 1024),
        ("512m", 512 << 20),
        ("512M", 512 << 20),
        ("512MiB", 512 << 20),
        ("2g", 2 << 30),
        ("2G", 2 << 30),
        ("2gb", 2 << 30),
        ("1.5g", 3 << 29),
        ("0.5k", 512),
        ("1t", 1 << 40),
        ("16tib", 16 << 40),
        ("  2g  ", 2 << 30),
    ]

    @Test(arguments: parsed)
    func parse(text: String, bytes: Int64) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    static let invalid: [String] = [
        "", " ", "g", "-1", "-1g", "1.5.5g", "1x", "1 g", "1gg", "2p", "1e3", "g2",
        "nan", "inf", "１g", "8388608t", "99999999999999999999",
    ]

    @Test(arguments: invalid)
    func parseRejects(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    static let canonical: [(bytes: Int64, text: String)] = [
        (0, "0"),
        (1, "1"),
        (1023, "1023"),
        (1024, "1k"),
        (1536, "1536"),
        (512 << 20, "512m"),
        (1536 << 20, "1536m"),
        (2048 << 20, "2g"),
        (1 << 40, "1t"),
        ((1 << 40) + (1 << 30), "1025g"),
    ]

    @Test(arguments: canonical)
    func description(bytes: Int64, text: String) {
        #expect(ByteSize(bytes: bytes).description == text)
    }

    @Test(arguments: canonical)
    func descriptionParsesBack(bytes: Int64, text: String) {
        #expect(ByteSize(parsing: ByteSize(bytes: bytes).description)?.bytes == bytes)
    }

    @Test func constructors() {
        #expect(ByteSize.kibibytes(3).bytes == 3 * 1024)
        #expect(ByteSize.mebibytes(3).bytes == 3 * 1024 * 1024)
        #expect(ByteSize.gibibytes(3).bytes == 3 * 1024 * 1024 * 1024)
    }

    @Test func ordering() {
        #expect(ByteSize.mebibytes(1023) < ByteSize.gibibytes(1))
        #expect(!(ByteSize.gibibytes(1) < ByteSize.mebibytes(1024)))
    }

    @Test func decodeString() throws {
        let size = try JSONDecoder().decode(ByteSize.self, from: Data(#""1.5g""#.utf8))

        #expect(size.bytes == 3 << 29)
    }

    @Test func decodeNumber() throws {
        let size = try JSONDecoder().decode(ByteSize.self, from: Data("4096".utf8))

        #expect(size.bytes == 4096)
    }

    @Test func decodeNegativeNumber() {
        let error = #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ByteSize.self, from: Data("-5".utf8))
        }

        #expect(String(describing: error).contains("negative"))
    }

    @Test func decodeInvalidString() {
        let error = #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ByteSize.self, from: Data(#""lots""#.utf8))
        }

        #expect(String(describing: error).contains("\"lots\" is not a size"))
    }

    @Test func encodeCanonical() throws {
        let data = try JSONEncoder().encode([ByteSize(bytes: 2048 << 20)])

        #expect(String(decoding: data, as: UTF8.self) == #"["2g"]"#)
    }
}

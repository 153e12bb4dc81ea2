import Testing

@testable import BerthDaemon

/// The example vectors of FIPS 180-4 (SHA-256), also fed in uneven chunks.
struct SHA256Tests {
    static let vectors: [(input: String, digest: String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]

    @Test func exampleVectors() {
        for vector in Self.vectors {
            #expect(SHA256.hex(Array(vector.input.utf8)) == vector.digest, "input \"\(vector.input)\"")
        }
    }

    @Test func millionLettersInChunks() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 999)
        var remaining = 1_000_000
        while remaining > 0 {
            let count = min(remaining, chunk.count)
            chunk[0..<count].withUnsafeBytes { hasher.update($0) }
            remaining -= count
        }

        #expect(hasher.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func paddingBoundaries() {
        // Lengths around the 56-byte point where padding needs a second block.
        for length in [55, 56, 57, 63, 64, 65] {
            let bytes = [UInt8](repeating: 0x61, count: length)
            var split = SHA256()
            split.update(bytes.prefix(length / 2))
            split.update(bytes.suffix(length - length / 2))

            #expect(split.finalizeHex() == SHA256.hex(bytes), "length \(length)")
        }
    }
}

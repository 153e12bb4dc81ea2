import BerthCore
import Testing

struct ImageReferenceTests {
    static let digest = "sha256:" + String(repeating: "0123456789abcdef", count: 4)

    static let valid: [String] = [
        "alpine",
        "alpine:3.20",
        "library/alpine:latest",
        "docker.io/library/alpine:3.20",
        "ghcr.io/org/team/app:v1.2-rc_3",
        "registry.example.com:5000/app",
        "localhost/app",
        "localhost:5000/app:dev",
        "my_app",
        "my__app",
        "my-app",
        "my--app",
        "my.app",
        "app:_underscore",
        "app@" + digest,
        "ghcr.io/org/app:1.0@" + digest,
        "Registry.Example.com/app",
        "app:" + String(repeating: "t", count: 128),
    ]

    @Test(arguments: valid)
    func accepts(reference: String) {
        #expect(ImageReference.problem(with: reference) == nil)
    }

    static let invalid: [(reference: String, problem: String)] = [
        ("", "is empty"),
        ("--privileged", "invalid name component \"--privileged\""),
        ("-v", "invalid name component \"-v\""),
        ("-", "invalid name component"),
        ("--volume=/:/host", "invalid name component"),
        ("alpine --privileged", "contains a space"),
        ("alpine\n", "control character"),
        ("alpine\u{0}", "control character"),
        ("alpïne", "non-ASCII"),
        ("Alpine", "invalid name component \"Alpine\""),
        ("alpine:", "invalid tag"),
        ("alpine:-rc", "invalid tag"),
        ("alpine:.rc", "invalid tag"),
        ("alpine:" + String(repeating: "t", count: 129), "invalid tag"),
        ("alpine@", "invalid digest"),
        ("alpine@sha256:xyz", "invalid digest"),
        ("alpine@sha256:abc", "invalid digest"),
        ("alpine@" + String(repeating: "a", count: 64), "invalid digest"),
        ("/alpine", "invalid name component \"\""),
        ("alpine/", "invalid name component \"\""),
        ("a//b", "invalid name component \"\""),
        ("a/../b", "invalid name component \"..\""),
        ("a___b", "invalid name component"),
        ("a._b", "invalid name component"),
        ("app-", "invalid name component"),
        ("registry:port/app", "invalid name component \"registry:port\""),
        ("registry.example.com:123456/app", "invalid name component"),
        (String(repeating: "a", count: 513), "longer than 512 bytes"),
    ]

    @Test(arguments: invalid)
    func rejects(reference: String, problem: String) {
        let found = ImageReference.problem(with: reference)

        #expect(found?.contains(problem) == true, "\(found ?? "nil")")
    }

    @Test(arguments: valid)
    func acceptedStartsWithLetterOrDigit(reference: String) {
        let first = reference.unicodeScalars.first!

        #expect(first.properties.isAlphabetic || ("0"..."9").contains(first))
    }

    @Test func maximumLengthAccepted() {
        let longest = String(repeating: "a", count: ImageReference.maximumLength)

        #expect(ImageReference.problem(with: longest) == nil)
    }
}

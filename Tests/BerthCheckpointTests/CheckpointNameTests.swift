import Testing

@testable import BerthDaemon

struct CheckpointNameTests {
    static let accepted = ["step-0001.json", "state", "c1-2-ask.json", "ümlaut.bin", ".hidden", "a b"]

    static let rejected: [(name: [UInt8], problem: String)] = [
        ([], "the name is empty"),
        (Array(".".utf8), "the name is . or .."),
        (Array("..".utf8), "the name is . or .."),
        (Array("a/b".utf8), "the name contains a path separator (/)"),
        (Array("bad\nname".utf8), "the name contains a control character"),
        (Array("tab\there".utf8), "the name contains a control character"),
        (Array("del\u{7f}".utf8), "the name contains a control character"),
        (Array("c1\u{85}".utf8), "the name contains a control character"),
        ([0x66, 0xff, 0x6f], "the name is not valid UTF-8"),
        ([UInt8](repeating: 0x61, count: 256), "the name is longer than 255 bytes"),
    ]

    @Test(arguments: accepted)
    func nameAccepted(name: String) {
        #expect(CheckpointName.problem(with: name) == nil)
    }

    @Test func namesRejected() {
        for (name, problem) in Self.rejected {
            #expect(CheckpointName.problem(with: name) == problem, "\(name)")
        }
    }

    @Test func displayEscapesControlAndInvalidBytes() {
        #expect(CheckpointName.display(Array("bad\nname.json".utf8)) == "bad\\x0aname.json")
        #expect(CheckpointName.display([0x66, 0xff, 0x6f]) == "f\\xffo")
        #expect(CheckpointName.display(Array("a\\b".utf8)) == "a\\x5cb")
        #expect(CheckpointName.display(Array("ümlaut".utf8)) == "ümlaut")
    }
}

import BerthCore
import Testing

@testable import BerthDaemon

/// The reasons the adapters give for checkpoint content that a resume may not start from.
@Suite struct CheckpointInspectionTests {
    let perstack = PerstackAdapter(options: JobSpec.PerstackOptions(expert: "writer", query: "q"), jobID: 1)

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func genericJSONCutShortNamesThePlace() {
        let inspection = GenericAdapter().inspect(bytes("{\n  \"step\": 3,\n  \"notes\": \"half"), name: "state.json")
        #expect(!inspection.valid)
        #expect(inspection.invalidReason == "is not valid JSON at line 3, column 12: the string is never closed")
    }

    @Test func genericFilesOtherThanJSONAreNotRead() {
        #expect(GenericAdapter().inspect(bytes("{half"), name: "state.bin") == .valid())
        #expect(GenericAdapter().inspect(bytes("[1, 2]"), name: "state.json") == .valid())
    }

    @Test func perstackNamesWhatIsMissing() {
        let cases: [(content: String, reason: String)] = [
            (#"{"id":"c1","expert":{"key":"writer"}"#, "is not valid JSON at column 37: expected ',' or '}', found the end of the file"),
            (#"["c1"]"#, "is JSON but not an object"),
            (#"{"expert":{"key":"writer"}}"#, "has no id string"),
            (#"{"id":"../c1","expert":{"key":"writer"}}"#, #"has the id "../c1", which is not a checkpoint id (letters, digits, '.', '_' or '-')"#),
            (#"{"id":"c1","expert":{}}"#, "has no expert.key string"),
            (#"{"id":"c2","expert":{"key":"writer"}}"#, #"has the id "c2", which does not match the file name"#),
        ]
        for (content, reason) in cases {
            let inspection = perstack.inspect(bytes(content), name: "c1.json")
            #expect(inspection.invalidReason == reason, "\(content)")
            #expect(inspection.metadata == nil)
        }
    }

    @Test func perstackValidContentKeepsItsMetadata() {
        let inspection = perstack.inspect(bytes(#"{"id":"c1","expert":{"key":"writer"},"status":"proceeding"}"#), name: "c1.json")
        #expect(inspection.valid)
        #expect(inspection.metadata?.contains(#""checkpointId":"c1""#) == true)
    }
}

import Foundation
import Testing

@testable import BerthDaemon

/// The scanner must agree with JSONSerialization whenever it gives a verdict.
/// Debug builds also assert this inside `OutputRecorder.append`.
struct JSONObjectScannerTests {
    static let lines: [String] = [
        #"{"type":"progress","n":1}"#,
        #"  {"type" : "a\"b\\c\/d" , "x": [1, -2.5, true, false, null, {"y": {}}]}  "#,
        #"{"n":1}"#,
        #"{}"#,
        #"{"type":7}"#,
        #"{"type":null}"#,
        #"{"type":{"type":"inner"}}"#,
        #"{"type":"é😀"}"#,
        #"{"type":"a","type":"b"}"#,
        #"{"typ\u0065":"escaped key"}"#,
        #"{"type":"\u0041"}"#,
        #"{"n":1e3}"#,
        #"{"n":01}"#,
        #"{"n":1234567890123456789012}"#,
        #"{"n":-}"#,
        #"{"a":1,}"#,
        #"{"a":1} trailing"#,
        #"{"a":"unterminated}"#,
        "{\"a\":\"tab\there\"}",
        #"{"é":1}"#,
        String(repeating: #"{"a":"#, count: 20) + "1" + String(repeating: "}", count: 20),
        #"{"a":[1,2,]}"#,
    ]

    @Test(arguments: lines)
    func scannerAgreesWithSerialization(line: String) {
        let serialized = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        guard let object = JSONObjectScanner.scan(line) else { return }
        #expect(serialized != nil)
        #expect(serialized?["type"] as? String == object.type)
    }

    @Test func scannerAcceptsTypicalEvent() {
        let object = JSONObjectScanner.scan(#"{"type":"progress","step":3,"message":"half way","data":{"done":[1,2]}}"#)
        #expect(object == JSONObjectScanner.Object(type: "progress"))
    }
}

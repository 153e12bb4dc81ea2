import Foundation
import Testing

@testable import BerthDaemon

@Suite("containsUTF8")
struct ByteSearchTests {
    @Test("finds the needle anywhere")
    func finds() {
        #expect(#"{"type":"checkpoint","name":"a"}"#.containsUTF8("checkpoint"))
        #expect("checkpoint".containsUTF8("checkpoint"))
        #expect("xx checkpoint".containsUTF8("checkpoint"))
        #expect("ccheckpoint".containsUTF8("checkpoint"))
        #expect("naïve checkpoint ✓".containsUTF8("checkpoint"))
    }

    @Test("misses near matches")
    func misses() {
        #expect(!"".containsUTF8("checkpoint"))
        #expect(!"checkpoin".containsUTF8("checkpoint"))
        #expect(!"Checkpoint".containsUTF8("checkpoint"))
        #expect(!"check point".containsUTF8("checkpoint"))
        #expect(!String(repeating: "checkpoin", count: 100).containsUTF8("checkpoint"))
    }

    @Test("bridged strings are searched too")
    func bridged() {
        let bridged = NSString(string: "a checkpoint here") as String
        #expect(bridged.containsUTF8("checkpoint"))
        #expect(!bridged.containsUTF8("Run"))
    }

    @Test("generic tracker picks checkpoint lines")
    func genericTracker() {
        let tracker = GenericEventTracker()
        #expect(tracker.mayConcern(#"{"type":"checkpoint"}"#))
        #expect(!tracker.mayConcern(#"{"type":"progress","step":1}"#))
    }
}

import BerthTestSupport
import Foundation

/// SplitMix64, a small generator whose whole sequence follows from one seed,
/// so that a failed run of the fault suite replays with the seed it printed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// Returns the seed from `variable` in the environment, or a new random one.
    static func seed(from variable: String) throws -> UInt64 {
        guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else {
            return UInt64.random(in: 1...UInt64.max)
        }
        guard let seed = UInt64(text) else {
            throw TestFailure("\(variable)=\(text) is not a decimal unsigned 64-bit integer")
        }
        return seed
    }
}

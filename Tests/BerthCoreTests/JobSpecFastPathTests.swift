@testable import BerthCore
import Foundation
import Testing

/// `JobSpec.decode(json:)` and `encodedJSON()` take a direct path for common
/// specs. In debug builds both compare their result with JSONDecoder and
/// JSONEncoder and trap on a difference, so each case here fails on a mismatch.
struct JobSpecFastPathTests {
    static let head = #""image":"alpine:3.20","command":["echo","hi"]"#

    /// Returns an `env` member with `count` distinct names, and the last name once more when `repeatingLast`.
    static func environment(count: Int, repeatingLast: Bool) -> String {
        var members = (1...count).map { "\"A\($0)\":\"\($0)\"" }
        if repeatingLast {
            members.append("\"A\(count)\":\"again\"")
        }
        return "\"env\":{" + members.joined(separator: ",") + "}"
    }

    /// Inputs near the edges of what the direct reader accepts.
    static let inputs: [String] = [
        "{\(head),\(environment(count: 40, repeatingLast: false))}",
        "{\(head),\(environment(count: 40, repeatingLast: true))}",
        "{\(head),\(environment(count: 15, repeatingLast: true))}",
        "{\(head)}",
        " {\(head)} \r",
        "{\(head),\"adapter\":{}}",
        "{\(head),\"adapter\":{\"type\":\"generic\"}}",
        "{\(head),\"adapter\":{\"type\":\"generic\",\"x\":1}}",
        "{\(head),\"env\":{\"A\":\"1\",\"A\":\"2\"}}",
        "{\(head),\"env\":null}",
        "{\(head),\"priority\":-0}",
        "{\(head),\"priority\":1.0}",
        "{\(head),\"priority\":1e2}",
        "{\(head),\"priority\":01}",
        "{\(head),\"priority\":99999999999999999999}",
        "{\(head),\"limits\":{\"cpus\":1e400}}",
        "{\(head),\"limits\":{\"cpus\":2,\"memory\":1048576,\"pids\":64}}",
        "{\(head),\"limits\":{\"memory\":-5}}",
        "{\(head),\"limits\":{\"memory\":1.5}}",
        "{\(head),\"limits\":{\"memory\":\"64m\",\"timeout\":\"1m\"}}",
        "{\(head),\"retry\":{\"retryOn\":[\"lost\",\"nope\"]}}",
        "{\(head),\"retry\":{\"neverRetryExitCodes\":[2,4294967296]}}",
        "{\(head),\"retry\":{\"multiplier\":1.5,\"jitter\":0.25,\"retryOn\":[]}}",
        "{\(head),\"labels\":{\"a10\":\"x\",\"a9\":\"y\",\"B\":\"z\"}}",
        "{\(head),\"idempotencyKey\":\"q\\\"b\\\\s\\/\\n\"}",
        "{\(head),\"idempotencyKey\":\"\\u0041\"}",
        "{\(head),\"idempotencyKey\":\"é😀\"}",
        "{\(head),\"hold\":true,\"hold\":false}",
        "{\(head),\"hold\":truex}",
        "{\(head),\"runAt\":\"2026-12-04T09:30:00+09:00\"}",
        "{\(head)} x",
        "{\(head),}",
        "{\"image\":\"alpine:3.20\"}",
    ]

    @Test(arguments: inputs)
    func decodeMatchesDecoder(json: String) {
        let spec = try? JobSpec.decode(json: Data(json.utf8))
        let decoded = try? JSONDecoder().decode(JobSpec.self, from: Data(json.utf8))
        if let spec {
            #expect(spec == decoded)
            #expect(spec.encodedJSON().isEmpty == false)
        }
    }

    @Test func encodeMatchesEncoderForEveryField() throws {
        var spec = JobSpec(image: "alpine:3.20", command: ["sh", "-c", "echo \"a\\b\" /x"])
        spec.env = ["B": "2", "A": "1", "a9": "x", "a10": "y"]
        spec.secrets = ["TOKEN"]
        spec.queue = "gpu"
        spec.priority = -5
        spec.limits = JobSpec.Limits(memory: .mebibytes(64), pids: 64, timeout: .seconds(90), workspaceDisk: .gibibytes(1), maxOutputBytes: .kibibytes(4))
        spec.retry = JobSpec.RetryOverrides(
            maxAttempts: 3, initialDelay: .seconds(1), maxDelay: .minutes(2), retryOn: [.lost, .timedOut], neverRetryExitCodes: [2, 3])
        spec.idempotencyKey = "key-1"
        spec.runAt = 1_796_376_600_007
        spec.labels = ["team": "data", "team/sub": "x"]
        spec.hold = true

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let expected = String(decoding: try encoder.encode(spec), as: UTF8.self)
        #expect(spec.encodedJSON() == expected)
    }

    @Test func readerFindsDuplicateAmongManyKeys() throws {
        let distinct = "{\(Self.head),\(Self.environment(count: 40, repeatingLast: false))}"
        let repeated = "{\(Self.head),\(Self.environment(count: 40, repeatingLast: true))}"

        #expect(JobSpec.decodeWithoutDecoder(Data(distinct.utf8))?.env.count == 40)
        #expect(JobSpec.decodeWithoutDecoder(Data(repeated.utf8)) == nil)
    }

    @Test(arguments: inputs)
    func decodeStoredMatchesDecoder(json: String) {
        let stored = try? JobSpec.decodeStored(json: json)
        let decoded = try? JSONDecoder().decode(JobSpec.self, from: Data(json.utf8))

        #expect(stored == decoded)
    }

    @Test func decodeStoredReadsEncodedSpecs() throws {
        var everyField = JobSpec(image: "registry.example.com:5000/team/app@sha256:" + String(repeating: "a", count: 64), command: ["run", "é\n"])
        everyField.env = ["A": "1"]
        everyField.secrets = ["TOKEN"]
        everyField.queue = "gpu"
        everyField.priority = 7
        everyField.limits = JobSpec.Limits(memory: .mebibytes(64), cpus: 1.5, pids: 64, timeout: .seconds(90))
        everyField.retry = JobSpec.RetryOverrides(maxAttempts: 3, multiplier: 1.5, jitter: 0.25, retryOn: [.lost], neverRetryExitCodes: [2])
        everyField.idempotencyKey = "key-1"
        everyField.runAt = 1_796_376_600_007
        everyField.labels = ["team": "data"]
        everyField.hold = true
        let specs = [JobSpec(image: "alpine:3.20", command: ["true"]), everyField]

        for spec in specs {
            #expect(try JobSpec.decodeStored(json: spec.encodedJSON()) == spec)
        }
    }

    @Test func decodeStoredRejectsInvalidJSON() {
        #expect(throws: DecodingError.self) {
            try JobSpec.decodeStored(json: "{\(Self.head)")
        }
        #expect(throws: DecodingError.self) {
            try JobSpec.decodeStored(json: "{\"image\":\"alpine:3.20\"}")
        }
    }
}

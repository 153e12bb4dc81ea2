import BerthCore
import Foundation
import Testing

struct JobSpecEncodingTests {
    static let fullSpec = JobSpec(
        image: "registry.example.com:5000/team/app@sha256:" + String(repeating: "ab", count: 32),
        command: ["python", "-m", "job", "--input=/data/in.csv", "ünïcode \"quoted\" \\ back/slash", "\t"],
        env: ["MODE": "fast", "EMPTY": ""],
        secrets: ["API_KEY", "DB_PASSWORD"],
        queue: "gpu.large",
        priority: -7,
        limits: JobSpec.Limits(
            memory: ByteSize(bytes: 3 << 29), cpus: 1.25, pids: 256, timeout: .minutes(90),
            workspaceDisk: .gibibytes(20), maxOutputBytes: .kibibytes(512)),
        retry: JobSpec.RetryOverrides(
            maxAttempts: 6, initialDelay: .seconds(3), maxDelay: .hours(1), multiplier: 2.5, jitter: 0.3,
            retryOn: [.failed, .lost], neverRetryExitCodes: [2, 78]),
        idempotencyKey: "report 2026-12-04 / eu",
        runAt: 1_796_376_600_123,
        labels: ["team": "data", "tier/env": "prod"],
        adapter: .perstack(JobSpec.PerstackOptions(
            expert: "@org/expert@1.0", query: "line one\nline two", provider: "anthropic", model: "claude-sonnet",
            maxSteps: 20, maxRetries: 3, modelTimeout: .seconds(45))),
        hold: true)

    @Test func roundTripFull() throws {
        let decoded = try decodeSpec(Self.fullSpec.encodedJSON())

        #expect(decoded == Self.fullSpec)
    }

    @Test func roundTripMinimal() throws {
        let spec = JobSpec(image: "alpine", command: ["true"])
        let decoded = try decodeSpec(spec.encodedJSON())

        #expect(decoded == spec)
    }

    @Test func encodingIsStable() throws {
        let once = Self.fullSpec.encodedJSON()
        let twice = try decodeSpec(once).encodedJSON()

        #expect(twice == once)
    }

    @Test func minimalCanonicalForm() {
        let spec = JobSpec(image: "alpine:3.20", command: ["echo", "hi"])

        #expect(spec.encodedJSON() == #"{"command":["echo","hi"],"image":"alpine:3.20","priority":0,"queue":"default"}"#)
    }

    @Test func keyOrderIrrelevant() throws {
        let first = try decodeSpec(#"{"queue":"q","image":"alpine","command":["true"],"env":{"B":"2","A":"1"}}"#)
        let second = try decodeSpec(#"{"env":{"A":"1","B":"2"},"command":["true"],"image":"alpine","queue":"q"}"#)

        #expect(first.encodedJSON() == second.encodedJSON())
    }

    @Test func valuesNormalised() throws {
        let spec = try decodeSpec(specJSON(#""limits":{"memory":"1024m","timeout":"90m","maxOutputBytes":1048576}"#))

        #expect(spec.encodedJSON().contains(#""limits":{"maxOutputBytes":"1m","memory":"1g","timeout":"1h30m"}"#))
    }

    @Test func defaultsOmitted() {
        let json = JobSpec(image: "alpine", command: ["true"]).encodedJSON()

        for key in ["env", "secrets", "limits", "retry", "idempotencyKey", "runAt", "labels", "adapter", "hold"] {
            #expect(!json.contains("\"\(key)\""), "\(key) in \(json)")
        }
    }

    @Test func holdIncluded() {
        let json = JobSpec(image: "alpine", command: ["true"], hold: true).encodedJSON()

        #expect(json.contains(#""hold":true"#))
    }

    @Test func slashesNotEscaped() {
        let json = JobSpec(image: "ghcr.io/org/app", command: ["/bin/true"]).encodedJSON()

        #expect(json.contains(#""image":"ghcr.io/org/app""#))
        #expect(json.contains(#""command":["/bin/true"]"#))
    }

    @Test func runAtFormattedUTC() {
        let json = JobSpec(image: "alpine", command: ["true"], runAt: 1_796_376_600_000).encodedJSON()

        #expect(json.contains(#""runAt":"2026-12-04T09:30:00.000Z""#))
    }

    @Test func perstackConfigWritten() {
        let spec = JobSpec(image: "alpine", command: ["true"], adapter: .perstack(JobSpec.PerstackOptions(expert: "e", query: "q")))

        #expect(spec.encodedJSON().contains(#""adapter":{"config":"/app/perstack.toml","expert":"e","query":"q","type":"perstack"}"#))
    }

    @Test func encodedJSONHasNoNewline() {
        #expect(!Self.fullSpec.encodedJSON().contains("\n"))
    }
}

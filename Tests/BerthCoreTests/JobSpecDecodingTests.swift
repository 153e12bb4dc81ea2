import BerthCore
import Foundation
import Testing

struct JobSpecDecodingTests {
    @Test func minimalSpecDefaults() throws {
        let spec = try decodeSpec(specJSON())

        #expect(spec.image == "alpine:3.20")
        #expect(spec.command == ["echo", "hi"])
        #expect(spec.env.isEmpty)
        #expect(spec.secrets.isEmpty)
        #expect(spec.queue == "default")
        #expect(spec.priority == 0)
        #expect(spec.limits == JobSpec.Limits())
        #expect(spec.retry == JobSpec.RetryOverrides())
        #expect(spec.idempotencyKey == nil)
        #expect(spec.runAt == nil)
        #expect(spec.labels.isEmpty)
        #expect(spec.adapter == .generic)
        #expect(spec.hold == false)
    }

    @Test func fullSpec() throws {
        let json = specJSON(
            #""env":{"MODE":"fast"},"secrets":["API_KEY"],"queue":"gpu","priority":5,"#
                + #""limits":{"memory":"1.5g","cpus":0.5,"pids":64,"timeout":"1h30m","workspaceDisk":"10g","maxOutputBytes":1048576},"#
                + #""retry":{"maxAttempts":4,"initialDelay":"5s","maxDelay":"2m","multiplier":1.5,"jitter":0.1,"retryOn":["lost","timed_out"],"neverRetryExitCodes":[2]},"#
                + #""idempotencyKey":"nightly-2026-12-04","runAt":"2026-12-04T09:30:00Z","labels":{"team":"data"},"hold":true"#)

        let spec = try decodeSpec(json)

        #expect(spec.env == ["MODE": "fast"])
        #expect(spec.secrets == ["API_KEY"])
        #expect(spec.queue == "gpu")
        #expect(spec.priority == 5)
        #expect(spec.limits.memory == ByteSize(bytes: 3 << 29))
        #expect(spec.limits.cpus == 0.5)
        #expect(spec.limits.pids == 64)
        #expect(spec.limits.timeout == .minutes(90))
        #expect(spec.limits.workspaceDisk == .gibibytes(10))
        #expect(spec.limits.maxOutputBytes == .mebibytes(1))
        #expect(spec.retry.maxAttempts == 4)
        #expect(spec.retry.initialDelay == .seconds(5))
        #expect(spec.retry.maxDelay == .minutes(2))
        #expect(spec.retry.multiplier == 1.5)
        #expect(spec.retry.jitter == 0.1)
        #expect(spec.retry.retryOn == [.lost, .timedOut])
        #expect(spec.retry.neverRetryExitCodes == [2])
        #expect(spec.idempotencyKey == "nightly-2026-12-04")
        #expect(spec.runAt == 1_796_376_600_000)
        #expect(spec.labels == ["team": "data"])
        #expect(spec.hold == true)
    }

    @Test func perstackAdapter() throws {
        let json = specJSON(
            #""adapter":{"type":"perstack","expert":"@org/expert@1.0","query":"summarise the report","#
                + #""provider":"anthropic","model":"claude-sonnet","maxSteps":50,"maxRetries":2,"modelTimeout":"2m"}"#)

        let spec = try decodeSpec(json)

        #expect(spec.adapter == .perstack(JobSpec.PerstackOptions(
            expert: "@org/expert@1.0", query: "summarise the report", config: "/app/perstack.toml",
            provider: "anthropic", model: "claude-sonnet", maxSteps: 50, maxRetries: 2, modelTimeout: .minutes(2))))
    }

    @Test func genericAdapterExplicit() throws {
        let spec = try decodeSpec(specJSON(#""adapter":{"type":"generic"}"#))

        #expect(spec.adapter == .generic)
    }

    @Test func argumentsKeptVerbatim() throws {
        let spec = try decodeSpec(specJSON(image: "alpine", command: #"["sh","-c","echo $HOME; rm -rf /tmp/x","--privileged"," "]"#))

        #expect(spec.command == ["sh", "-c", "echo $HOME; rm -rf /tmp/x", "--privileged", " "])
    }

    @Test func unicodeArguments() throws {
        let spec = try decodeSpec(specJSON(image: "alpine", command: #"["echo","grüße 🚢"]"#))

        #expect(spec.command[1] == "grüße 🚢")
    }

    @Test func nullOptionalFieldsIgnored() throws {
        let spec = try decodeSpec(specJSON(#""idempotencyKey":null,"runAt":null,"limits":null"#))

        #expect(spec.idempotencyKey == nil)
        #expect(spec.runAt == nil)
        #expect(spec.limits == JobSpec.Limits())
    }
}

/// Builds the JSON of a spec with the given image and command and no other field.
private func specJSON(image: String, command: String) -> String {
    #"{"image":""# + image + #"","command":"# + command + "}"
}

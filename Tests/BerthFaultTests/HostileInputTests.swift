import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

extension FaultScenarios {
    /// Hostile job specs and job output, through the real command line, daemon
    /// and engine.
    ///
    /// Other suites cover the rest, so it is not repeated here:
    /// - every validation rule of a spec on its own: BerthCoreTests `JobSpecValidationTests`;
    /// - a batch with bad lines, of which nothing is stored: BerthCLITests `BatchSubmitTests`;
    /// - a short over-long line, invalid UTF-8 and a last line without a newline:
    ///   BerthDaemonTests `OutputScenarios.eventsLogsAndOddLinesAreStored`;
    /// - the output cap: `OutputScenarios.outputCapCountsDroppedLines`;
    /// - symbolic links, FIFOs, sockets, devices, huge and sparse files in the
    ///   checkpoint directory: BerthCheckpointTests `HostileWorkspaceTests`.
    @Suite struct HostileInput {
        /// One spec that `berth submit` must reject before storing anything.
        struct RejectedSpec: CustomTestStringConvertible, Sendable {
            let label: String
            /// The arguments after `berth submit`; `BATCH` is replaced by the path of a file holding `batch`.
            let arguments: [String]
            let batch: Data?
            let status: Int32
            let message: String

            var testDescription: String { label }
        }

        static let image = FaultImage.name

        static let rejected: [RejectedSpec] = [
            RejectedSpec(label: "cut-off JSON", arguments: ["--spec", #"{"image":"#], batch: nil, status: 64, message: "invalid spec: is not valid JSON"),
            RejectedSpec(label: "image as an engine flag", arguments: ["--spec", #"{"image":"--privileged","command":["true"]}"#], batch: nil, status: 64,
                         message: #"invalid image "--privileged""#),
            RejectedSpec(label: "image as a volume flag", arguments: ["--spec", #"{"image":"-v","command":["true"]}"#], batch: nil, status: 64,
                         message: #"invalid image "-v""#),
            RejectedSpec(label: "engine option as a field", arguments: ["--spec", #"{"image":"\#(image)","command":["true"],"privileged":true}"#],
                         batch: nil, status: 64, message: "invalid privileged: unknown field"),
            RejectedSpec(label: "environment name with a digit first", arguments: ["--image", image, "--env", "1BAD=x", "--", "true"], batch: nil, status: 64,
                         message: #"invalid env "1BAD""#),
            RejectedSpec(label: "environment name with a space", arguments: ["--image", image, "--env", "A B=x", "--", "true"], batch: nil, status: 64,
                         message: #"invalid env "A B""#),
            RejectedSpec(label: "environment name of the daemon", arguments: ["--image", image, "--env", "BERTH_JOB_ID=7", "--", "true"], batch: nil,
                         status: 64, message: "names starting with BERTH_ are set by the daemon"),
            RejectedSpec(label: "NUL byte in an argument", arguments: ["--spec", #"{"image":"\#(image)","command":["a\u0000b"]}"#], batch: nil, status: 64,
                         message: "contains a NUL byte"),
            RejectedSpec(label: "oversized spec in a batch", arguments: ["--file", "BATCH"],
                         batch: Data(#"{"image":"\#(image)","command":["echo","\#(String(repeating: "x", count: 300_000))"]}"#.utf8), status: 64,
                         message: "bytes; the maximum is 262144 bytes"),
            RejectedSpec(label: "bytes that are not UTF-8 in a batch", arguments: ["--file", "BATCH"], batch: Data([0xFF, 0xFE, 0x7B, 0x7D]), status: 64,
                         message: "BATCH:1: invalid spec: is not valid JSON"),
            RejectedSpec(label: "equals sign in a batch's environment name", arguments: ["--file", "BATCH"],
                         batch: Data(#"{"image":"\#(image)","command":["true"],"env":{"A=B":"1"}}"#.utf8), status: 64, message: #"BATCH:1: invalid env "A=B""#),
        ]

        @Test(arguments: rejected)
        func hostileSpecRejected(_ spec: RejectedSpec) async throws {
            try await withFaultSandbox { sandbox in
                var arguments = spec.arguments
                var message = spec.message
                if let batch = spec.batch {
                    let path = sandbox.directory.appendingPathComponent("batch.jsonl").path
                    try batch.write(to: URL(fileURLWithPath: path))
                    arguments = arguments.map { $0 == "BATCH" ? path : $0 }
                    message = message.replacingOccurrences(of: "BATCH", with: path)
                }
                let submitted = try await sandbox.berth(["submit"] + arguments)
                #expect(submitted.status == spec.status, "\(submitted)")
                #expect(submitted.standardError.contains(message), "\(submitted)")
                #expect(submitted.standardOutput.isEmpty, "\(submitted)")
                #expect(try sandbox.store.jobs(matching: JobFilter(limit: 10)).isEmpty, "a rejected spec was stored")
            }
        }

        /// Jobs whose arguments, environment and output are hostile, run in one
        /// batch by one daemon whose line cap is 64 KiB.
        @Test func hostileJobsStoredLiterally() async throws {
            try await withFaultSandbox { sandbox in
                let image = try await FaultImage.require()
                let daemon = try sandbox.startDaemon(overrides: ["output": ["maxLineBytes": "64k"]])
                try await daemon.waitForLog("daemon started")

                let flagLike = ["--privileged", "-v", "/:/host", "--network=host", "--entrypoint=/bin/sh", "$(id -u)", "a;b|c&&d", "`uname`", "*",
                                "two\nlines", "'quoted'"]
                let printArguments = #"if [ -e /host ]; then echo "/host exists"; fi; for a in "$@"; do printf '%s\n' "$a"; done"#
                let specs: [[String: Any]] = [
                    ["command": ["sh", "-c", printArguments, "sh"] + flagLike],
                    ["command": ["sh", "-c", #"printf '%s\n' "$MULTI""#], "env": ["MULTI": "line1\nline2; rm -rf /"]],
                    ["command": ["sh", "-c", #"printf 'a\000b\n'; printf '{"type":"nul","v":"x\000y"}\n'; printf '{"type":"ok"}\n'"#]],
                    ["command": ["sh", "-c", #"head -c 1000000 /dev/zero | tr '\000' x; echo; echo '{"type":"after"}'"#]],
                    ["command": ["sh", "-c", #"echo start; head -c 3000000 /dev/zero | tr '\000' y"#]],
                ]
                let lines = try specs.map { spec in
                    var spec = spec
                    spec["image"] = image
                    return String(decoding: try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]), as: UTF8.self)
                }
                let batch = sandbox.directory.appendingPathComponent("hostile.jsonl")
                try lines.joined(separator: "\n").write(to: batch, atomically: true, encoding: .utf8)
                let submitted = try await sandbox.berth(["submit", "--file", batch.path])
                try #require(submitted.status == 0, "\(submitted)")
                let ids = submitted.nonEmptyLines.compactMap { Int64($0) }
                try #require(ids.count == specs.count, "\(submitted)")

                let waited = try await sandbox.berth(["wait", "--timeout", "60s"] + ids.map(String.init))
                #expect(waited.status == 0, "\(waited)")
                let events = try ids.map { try sandbox.store.events(jobID: $0, limit: 100) }

                // Arguments reach the program as argv, after the image, so podman reads none of them.
                #expect(events[0].map(\.payload) == flagLike.flatMap { $0.split(separator: "\n").map(String.init) })

                #expect(events[1].map(\.payload) == ["line1", "line2; rm -rf /"])

                // NUL bytes are kept; a JSON object with a raw control character is not JSON.
                #expect(events[2].map(\.payload) == ["a\u{0}b", "{\"type\":\"nul\",\"v\":\"x\u{0}y\"}", #"{"type":"ok"}"#])
                #expect(events[2].map(\.isJSON) == [false, false, true])
                #expect(events[2].last?.type == "ok")

                // A line over the cap is stored cut at 64 KiB and flagged, and the next line is whole.
                #expect(events[3].count == 2)
                #expect(events[3].first?.truncated == true)
                #expect(events[3].first?.payload == String(repeating: "x", count: 65_536))
                #expect(events[3].last?.type == "after")
                #expect(events[3].last?.truncated == false)

                // A stream that never ends its line ends with the container, cut at the cap.
                #expect(events[4].map(\.payload.count) == [5, 65_536])
                #expect(events[4].last?.truncated == true)

                for id in ids {
                    #expect(try sandbox.store.attempts(jobID: id).map(\.outcome) == [.succeeded], "job \(id)")
                }
                #expect(daemon.isRunning)
                daemon.signal(SIGTERM)
                #expect(try await daemon.waitForExit() == .exited(0))
                #expect(try await sandbox.sql("PRAGMA integrity_check;").standardOutput == "ok\n")
            }
        }
    }
}

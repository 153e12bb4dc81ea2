import BerthTestSupport
import Foundation
import Testing

/// Invalid configuration files stop `berth daemon` with exit status 78 and a
/// message that names the key path, before it touches the database.
@Suite("configuration errors")
struct ConfigurationErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let body: String
        /// Text the error message must contain: the key path and what is wrong.
        let expected: [String]

        var testDescription: String { expected[0] }
    }

    static let cases: [Case] = [
        Case(body: "colour: 1", expected: ["colour: unknown key", "valid keys here are"]),
        Case(body: "concurrency: \"4\"", expected: ["concurrency: expected an integer from 1 to 1024"]),
        Case(body: "concurrency: 0", expected: ["concurrency: 0 is out of range"]),
        Case(body: "metrics: { interval: \"0s\" }", expected: ["metrics.interval:", "out of range"]),
        Case(body: "metrics: { path: \"berth.prom\" }", expected: ["metrics.path:", "not an absolute path"]),
        Case(body: "metrics: { path: \"/tmp/a.prom\", every: \"1s\" }", expected: ["metrics.every: unknown key", "interval, path"]),
        Case(body: "defaultQueue: { memory: \"lots\" }", expected: ["defaultQueue.memory:", "not a size"]),
        Case(body: "queues: { gpu: { retry: { jitter: 2 } } }", expected: ["queues.gpu.retry.jitter:", "out of range"]),
        Case(body: "heartbeatInterval: \"40s\"", expected: ["heartbeatInterval:", "at most half of leaseDuration"]),
        Case(body: "engine: { kind: \"rkt\" }", expected: ["engine.kind:", "expected one of auto, podman, docker"]),
        Case(body: "engine: { extraRunFlags: [\"-v\"] }", expected: ["engine.extraRunFlags[0]:", "not a long flag"]),
        Case(body: "shutdown: { mode: \"pause\" }", expected: ["shutdown.mode:", "drain, detach"]),
        Case(body: "logLevel: \"loud\"", expected: ["logLevel:", "debug, info, warning, error"]),
        Case(body: "database: { path: \"DATABASE\", synchronous: \"off\" }", expected: ["database.synchronous:", "normal, full"]),
        Case(body: "pollInterval: 2", expected: ["pollInterval: the number 2 is not a duration; expected a string with a unit"]),
        Case(body: "leaseDuration: \"60s\",, ", expected: ["not valid JSON5: line 1, column", "expected a key, found ','"]),
    ]

    @Test("invalid file exits 78", arguments: cases)
    func invalidFile(_ testCase: Case) async throws {
        let sandbox = try OperationsSandbox()
        let databasePath = sandbox.databasePath
        // Every file names the sandbox's database, so a file taken as valid cannot touch the default one.
        let text = testCase.body.contains("DATABASE")
            ? "{ \(testCase.body.replacingOccurrences(of: "DATABASE", with: databasePath)) }"
            : "{ database: { path: \"\(databasePath)\" }, \(testCase.body) }"
        try text.write(toFile: sandbox.configurationPath, atomically: true, encoding: .utf8)

        let result = try await SpawnedProcess.run(
            try BerthBinary.require(), ["daemon", "--config", sandbox.configurationPath],
            environment: sandbox.environment, timeout: .seconds(30))

        #expect(result.status == 78, "\(result)")
        #expect(result.standardError.contains("invalid configuration"), "\(result)")
        #expect(result.standardError.contains(sandbox.configurationPath), "\(result)")
        for text in testCase.expected {
            #expect(result.standardError.contains(text), "\(result)")
        }
        #expect(!FileManager.default.fileExists(atPath: databasePath), "an invalid configuration must not create the database")
    }

    @Test("check-config prints metrics settings")
    func checkConfigShowsMetrics() async throws {
        let sandbox = try OperationsSandbox()
        try sandbox.writeConfiguration(extra: "metrics: { path: \"/var/lib/prometheus/node-exporter/berth.prom\", interval: \"30s\" },")
        let result = try await sandbox.berth(["daemon", "--config", sandbox.configurationPath, "--check-config"])
        #expect(result.status == 0, "\(result)")
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let metrics = object?["metrics"] as? [String: Any]
        #expect(metrics?["path"] as? String == "/var/lib/prometheus/node-exporter/berth.prom")
        #expect(metrics?["interval"] as? String == "30s")
    }
}

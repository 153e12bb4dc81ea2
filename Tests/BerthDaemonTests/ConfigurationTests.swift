import BerthCore
import Foundation
import Testing

@testable import BerthDaemon

@Suite struct ConfigurationParsingTests {
    private func parse(_ text: String) throws(ConfigurationError) -> DaemonConfiguration {
        try DaemonConfiguration.parse(Data(text.utf8), file: "test.json5")
    }

    @Test func emptyObjectGivesDefaults() throws {
        #expect(try parse("{}") == DaemonConfiguration())
    }

    /// `config/berth.json5` documents every key with its default value, so
    /// reading it must give exactly the built-in defaults.
    @Test func documentedExampleGivesTheDefaults() throws {
        let example = TestImage.fixtures.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/berth.json5").path
        var configuration = try DaemonConfiguration.load(path: example)
        var defaults = DaemonConfiguration()
        // The example shows the paths of a daemon run by root, as systemd starts it.
        configuration.database.path = nil
        defaults.directories = configuration.directories
        #expect(configuration == defaults)
    }

    @Test(arguments: ["nobody", "1000", "1000:1000", "_build:users"])
    func containerUserIsAccepted(user: String) throws {
        #expect(try parse("{defaultQueue: {user: \"\(user)\"}}").defaultQueue.user == user)
    }

    @Test func nullCountsAsAbsent() throws {
        #expect(try parse("{concurrency: null, engine: {path: null}}") == DaemonConfiguration())
    }

    @Test func json5FileIsRead() throws {
        let configuration = try parse(
            """
            // Comments, unquoted keys and trailing commas are JSON5.
            {
              database: {path: "/srv/berth/jobs.db", synchronous: "full"},
              workerID: "node-7",
              engine: {kind: "podman", path: "/usr/bin/podman", pullPolicy: "never", extraRunFlags: ["--log-driver=k8s-file"]},
              concurrency: 8,
              defaultQueue: {memory: "512m", timeout: "5m", retry: {maxAttempts: 5, initialDelay: "2s"}},
              queues: {gpu: {concurrency: 1, memory: "8g"}},
              leaseDuration: "30s",
              heartbeatInterval: "5s",
              shutdown: {mode: "detach", deadline: "1m"},
              output: {maxLineBytes: "64k"},
              logLevel: "warning",
            }
            """)
        #expect(configuration.databaseOptions.path == "/srv/berth/jobs.db")
        #expect(configuration.database.synchronous == .full)
        #expect(configuration.resolvedWorkerID == "node-7")
        #expect(configuration.engine.kind == .podman)
        #expect(configuration.engine.path == "/usr/bin/podman")
        #expect(configuration.engine.pullPolicy == .never)
        #expect(configuration.engine.extraRunFlags == ["--log-driver=k8s-file"])
        #expect(configuration.concurrency == 8)
        #expect(configuration.defaultQueue.memory == .mebibytes(512))
        #expect(configuration.defaultQueue.retry.maxAttempts == 5)
        #expect(configuration.defaultQueue.retry.initialDelay == .seconds(2))
        #expect(configuration.leaseDuration == .seconds(30))
        #expect(configuration.heartbeatInterval == .seconds(5))
        #expect(configuration.shutdown.mode == .detach)
        #expect(configuration.shutdown.deadline == .minutes(1))
        #expect(configuration.output.maxLineBytes == .kibibytes(64))
        #expect(configuration.logLevel == .warning)
    }

    @Test func listedQueueStartsFromDefaultQueue() throws {
        let configuration = try parse(#"{defaultQueue: {timeout: "5m", pids: 64}, queues: {gpu: {memory: "8g"}}}"#)
        let gpu = configuration.settings(forQueue: "gpu")
        #expect(gpu.memory == .gibibytes(8))
        #expect(gpu.timeout == .minutes(5))
        #expect(gpu.pids == 64)
        #expect(configuration.settings(forQueue: "other") == configuration.defaultQueue)
    }

    /// Files that must be rejected, the key path the error names, and a phrase of its problem.
    static let invalidFiles: [(text: String, keyPath: String, problem: String)] = [
        ("{concurrecy: 2}", "concurrecy", "unknown key"),
        (#"{defaultQueue: {memroy: "1g"}}"#, "defaultQueue.memroy", "unknown key"),
        ("{engine: {retries: 1}}", "engine.retries", "unknown key"),
        (#"{concurrency: "four"}"#, "concurrency", "expected an integer"),
        ("{output: {batchLines: 1.5}}", "output.batchLines", "expected an integer"),
        ("{engine: {kind: 3}}", "engine.kind", "expected a string"),
        ("{defaultQueue: {timeout: 30}}", "defaultQueue.timeout", "expected a string"),
        ("{defaultQueue: {readOnlyRoot: \"yes\"}}", "defaultQueue.readOnlyRoot", "expected true or false"),
        ("{engine: {extraRunFlags: \"--init\"}}", "engine.extraRunFlags", "expected an array of strings"),
        ("{queues: []}", "queues", "expected an object"),
        ("{concurrency: 0}", "concurrency", "out of range"),
        (#"{leaseDuration: "4s"}"#, "leaseDuration", "out of range"),
        ("{queues: {gpu: {retry: {maxAttempts: 0}}}}", "queues.gpu.retry.maxAttempts", "out of range"),
        (#"{defaultQueue: {memory: "1m"}}"#, "defaultQueue.memory", "out of range"),
        ("{defaultQueue: {cpus: 5000}}", "defaultQueue.cpus", "out of range"),
        (#"{leaseDuration: "10s", heartbeatInterval: "6s"}"#, "heartbeatInterval", "at most half of leaseDuration"),
        (#"{defaultQueue: {retry: {initialDelay: "1m", maxDelay: "10s"}}}"#, "defaultQueue.retry.maxDelay", "shorter than initialDelay"),
        (#"{defaultQueue: {memory: "lots"}}"#, "defaultQueue.memory", "is not a size"),
        (#"{pollInterval: "soon"}"#, "pollInterval", "is not a duration"),
        ("{pollInterval: 2}", "pollInterval", "the number 2 is not a duration; expected a string with a unit"),
        (#"{workspaceRetention: "-1h"}"#, "workspaceRetention", "is not a duration"),
        (#"{database: {path: "jobs.db"}}"#, "database.path", "not an absolute path"),
        (#"{shutdown: {mode: "pause"}}"#, "shutdown.mode", "expected one of drain, detach"),
        (#"{engine: {extraRunFlags: ["-v"]}}"#, "engine.extraRunFlags[0]", "not a long flag"),
        (#"{engine: {passEnvironment: ["PATH", 7]}}"#, "engine.passEnvironment[1]", "expected a string"),
        (#"{workerID: "two words"}"#, "workerID", "is not valid"),
        (#"{queues: {"bad name!": {}}}"#, "queues.bad name!", "not a valid queue name"),
        (#"{defaultQueue: {user: "root;rm"}}"#, "defaultQueue.user", "is not valid"),
        (#"{defaultQueue: {user: "1:2:3"}}"#, "defaultQueue.user", "is not valid"),
        (#"{defaultQueue: {user: "1000:"}}"#, "defaultQueue.user", "is not valid"),
        (#"{defaultQueue: {user: ":1000"}}"#, "defaultQueue.user", "is not valid"),
    ]

    @Test(arguments: invalidFiles)
    func invalidFileNamesTheKey(text: String, keyPath: String, problem: String) {
        do {
            let configuration = try parse(text)
            Issue.record("accepted \(text) as \(configuration)")
        } catch {
            #expect(error.file == "test.json5")
            #expect(error.keyPath == keyPath)
            #expect(error.problem.contains(problem), "problem: \(error.problem)")
            #expect(error.description.hasPrefix("test.json5: \(keyPath): "))
        }
    }

    @Test(arguments: [
        ("[1, 2]", "expected an object at the top level"),
        ("{concurrency: 2,, }", "not valid JSON5: line 1, column 17: expected a key, found ','"),
        ("", "not valid JSON5: line 1, column 1: expected a value, found the end of the file"),
        ("{\n  concurrency: 4\n  pollInterval: \"2s\"\n}", "line 3, column 3: expected ',' or '}', found 'p'"),
        ("{\n  engine: {kind: \"podman\",\n", "line 2, column 11: '{' is never closed"),
        ("{a: 'x}", "line 1, column 5: the string is never closed"),
        ("{a: \"x\ny\"}", "the string that starts at line 1, column 5 does not end on its line"),
        ("{pollInterval: 2s}", "line 1, column 17: unexpected 's' in a number"),
        ("{logLevel: info}", "line 1, column 12: expected a value, found 'i'; quote strings"),
        ("{/* note\n a: 1}", "line 1, column 2: the comment is never closed"),
        ("{é: 1} x", "line 1, column 8: unexpected 'x' after the end of the document"),
    ])
    func invalidDocumentHasNoKeyPath(text: String, problem: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.keyPath == "")
            #expect(error.problem.contains(problem), "problem: \(error.problem)")
        }
    }
}

@Suite struct JSON5SyntaxLocatorTests {
    /// Every form JSON5 allows passes, so a located error never blames valid syntax.
    @Test(arguments: [
        "{}", "[]", "{a: 1,}", "[1, 2,]", "{'single': 'quoted'}", "{\"a\": \"b\\\"c\"}",
        "{$key_1: +1.5e3, b: -.5, c: 5., d: 0x1F, e: Infinity, f: -NaN}",
        "// leading comment\n{a: /* inline */ true, b: false, c: null}\n",
        "{a: 'line \\\ncontinued'}", "\u{FEFF}{a: 1}", "{ключ: 1}",
    ])
    func acceptsValidSyntax(text: String) {
        #expect(JSON5SyntaxLocator.firstProblem(in: Array(text.utf8)) == nil)
    }
}

@Suite struct ConfigurationCommandTests {
    @Test func invalidConfigurationExits78() async throws {
        let sandbox = try DaemonSandbox()
        let path = try sandbox.write(#"{defaultQueue: {memroy: "1g"}}"#, to: "bad.json5")

        let result = try await sandbox.berth(["daemon", "--config", path])
        #expect(result.status == 78)
        #expect(result.standardError.contains("\(path): defaultQueue.memroy: unknown key"))
        #expect(result.standardOutput.isEmpty)
    }

    @Test func unreadableConfigurationExits78() async throws {
        let sandbox = try DaemonSandbox()
        let path = sandbox.directory.appendingPathComponent("missing.json5").path

        let result = try await sandbox.berth(["daemon", "--config", path])
        #expect(result.status == 78)
        #expect(result.standardError.contains("cannot read the file"))
    }

    @Test func invalidWorkerIDOptionIsUsageError() async throws {
        let sandbox = try DaemonSandbox()
        let path = try sandbox.write("{}", to: "empty.json5")

        let result = try await sandbox.berth(["daemon", "--config", path, "--worker-id", "../escape", "--check-config"])
        #expect(result.status == 64)
        #expect(result.standardError.contains("--worker-id ../escape is not valid"), "\(result)")
        #expect(result.standardOutput.isEmpty)
    }

    @Test func checkConfigPrintsEffectiveSettings() async throws {
        let sandbox = try DaemonSandbox()
        let databasePath = sandbox.directory.appendingPathComponent("unused.db").path
        let path = try sandbox.write(
            #"{database: {path: "\#(databasePath)"}, leaseDuration: "20s", defaultQueue: {memory: "256m"}}"#, to: "good.json5")

        let result = try await Processes.run(
            try BerthBinary.require(), ["daemon", "--config", path, "--check-config", "--worker-id", "node-3"],
            environment: sandbox.environment)
        #expect(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(object["leaseDuration"] as? String == "20s")
        #expect(object["workerID"] as? String == "node-3")
        #expect((object["defaultQueue"] as? [String: Any])?["memory"] as? String == "256m")
        #expect((object["database"] as? [String: Any])?["path"] as? String == databasePath)
        #expect(!FileManager.default.fileExists(atPath: databasePath), "--check-config must not create the database")
    }

    @Test func databaseOptionOverridesConfiguration() async throws {
        let sandbox = try DaemonSandbox()
        let path = try sandbox.write(#"{database: {path: "/nonexistent/jobs.db"}}"#, to: "good.json5")

        let result = try await sandbox.berth(["daemon", "--config", path, "--check-config"])
        #expect(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect((object["database"] as? [String: Any])?["path"] as? String == sandbox.databasePath)
    }
}

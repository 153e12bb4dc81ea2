import BerthCore
import BerthTestSupport
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
        let example = TestHost.fixtures.deletingLastPathComponent().deletingLastPathComponent()
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
        ("{concurrency: 2, concurrency: 3}", "concurrency", "appears again at line 1, column 18; berth would use only the first value"),
        ("{defaultQueue: {cpus: 1}, defaultQueue: {cpus: 2}}", "defaultQueue", "appears again at line 1, column 27"),
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
    func invalidFileNamesTheKey(text: String, keyPath: String, problem: String) throws {
        let error = try #require(throws: ConfigurationError.self) { try parse(text) }
        #expect(error.file == "test.json5")
        #expect(error.problems.count == 1, "\(error)")
        let found = try #require(error.problems.first)
        #expect(found.keyPath == keyPath)
        #expect(found.line == 1)
        #expect(found.message.contains(problem), "message: \(found.message)")
        #expect(error.description.hasPrefix("test.json5:1:"), "\(error)")
        #expect(error.description.contains(": \(keyPath): "), "\(error)")
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
    func invalidDocumentHasNoKeyPath(text: String, problem: String) throws {
        let error = try #require(throws: ConfigurationError.self) { try parse(text) }
        #expect(error.problems.count == 1, "\(error)")
        let found = try #require(error.problems.first)
        #expect(found.keyPath == "")
        #expect(found.line == nil)
        #expect(found.message.contains(problem), "message: \(found.message)")
    }
}

/// Files with several mistakes: every problem is reported, each with the line
/// and column of its key, ordered by line.
@Suite struct ConfigurationProblemListTests {
    private func problems(_ text: String) throws -> [ConfigurationError.Problem] {
        let error = try #require(throws: ConfigurationError.self) {
            try DaemonConfiguration.parse(Data(text.utf8), file: "berth.json5")
        }
        return error.problems
    }

    /// The keys appear in the file in another order than the reader reads
    /// them, so the list must be sorted by line, not by the order found.
    @Test func threeMistakesAreAllReported() throws {
        let found = try problems(
            """
            {
              pollInterval: 2,
              defaultQueue: {
                memory: "1g",
                concurency: 2,
              },
              leaseDuration: "60s",
              concurrency: 5000,
            }
            """)
        #expect(found.count == 3, "\(found)")
        try #require(found.count == 3)

        #expect(found[0].keyPath == "pollInterval")
        #expect(found[0].line == 2)
        #expect(found[0].column == 3)
        #expect(found[0].message.contains("the number 2 is not a duration"))

        #expect(found[1].keyPath == "defaultQueue.concurency")
        #expect(found[1].line == 5)
        #expect(found[1].column == 5)
        #expect(found[1].message.hasPrefix("unknown key"))

        #expect(found[2].keyPath == "concurrency")
        #expect(found[2].line == 8)
        #expect(found[2].column == 3)
        #expect(found[2].message.contains("5000 is out of range; expected 1 to 1024"))
    }

    @Test func everyProblemIsOneLine() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try DaemonConfiguration.parse(Data("{\n  pollInterval: 2,\n  logLevel: 'loud',\n}".utf8), file: "/etc/berth/berth.json5")
        }
        #expect(error.lines == [
            "/etc/berth/berth.json5:2:3: pollInterval: the number 2 is not a duration; expected a string with a unit (ms, s, m, h, d), such as \"30s\"",
            "/etc/berth/berth.json5:3:3: logLevel: \"loud\" is not valid; expected one of debug, info, warning, error",
        ])
        #expect(error.description == error.lines.joined(separator: "\n"))
    }

    @Test func listStopsAfterTwentyProblems() throws {
        let keys = (1...25).map { "unknown\($0): 1," }.joined(separator: "\n")
        let error = try #require(throws: ConfigurationError.self) {
            try DaemonConfiguration.parse(Data("{\n\(keys)\n}".utf8), file: "berth.json5")
        }
        #expect(error.problems.count == 25)
        #expect(error.lines.count == 21)
        #expect(error.lines.first?.hasPrefix("berth.json5:2:1: unknown1: unknown key") == true, "\(error)")
        #expect(error.lines.last == "berth.json5: 5 more problems not listed; correct the ones above and check again")
    }

    /// A comparison of two keys is skipped when one of them is already
    /// reported, because the other would be compared with a default.
    @Test func rejectedValueIsNotComparedAgain() throws {
        let found = try problems(#"{leaseDuration: "4s", heartbeatInterval: "40s", pollInterval: 2}"#)
        #expect(found.map(\.keyPath) == ["leaseDuration", "pollInterval"])
    }

    @Test(arguments: [
        // A typo at each level, a case-only difference and a swap of two letters.
        ("{concurency: 4}", "concurency", "concurrency"),
        ("{defaultQueue: {concurency: 4}}", "defaultQueue.concurency", "concurrency"),
        ("{defaultQueue: {retry: {maxAtempts: 4}}}", "defaultQueue.retry.maxAtempts", "maxAttempts"),
        ("{queues: {gpu: {memroy: '8g'}}}", "queues.gpu.memroy", "memory"),
        ("{engine: {pullpolicy: 'never'}}", "engine.pullpolicy", "pullPolicy"),
        ("{Concurrency: 4}", "Concurrency", "concurrency"),
        ("{shutdown: {mdoe: 'drain'}}", "shutdown.mdoe", "mode"),
    ])
    func typoGetsSuggestion(text: String, keyPath: String, suggestion: String) throws {
        let found = try problems(text)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.keyPath == keyPath)
        let message = try #require(found.first?.message)
        #expect(message.hasPrefix("unknown key; did you mean \(suggestion)? Valid keys here are "), "\(message)")
        // The suggestion appears twice: in the question and in the list of valid keys.
        #expect(message.components(separatedBy: suggestion).count == 3, "\(message)")
    }

    @Test(arguments: [
        ("{colour: 'blue'}", "colour"),
        ("{defaultQueue: {gpuCount: 1}}", "defaultQueue.gpuCount"),
        ("{defaultQueue: {id: 1}}", "defaultQueue.id"),
        ("{engine: {flags: []}}", "engine.flags"),
    ])
    func distantKeyGetsNoSuggestion(text: String, keyPath: String) throws {
        let found = try problems(text)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.keyPath == keyPath)
        let message = try #require(found.first?.message)
        #expect(message.hasPrefix("unknown key; valid keys here are "), "\(message)")
        #expect(!message.contains("did you mean"))
    }

    /// Text that looks like a key, in comments and strings and at another
    /// level, comes before the real key, so a search of the text would stop too early.
    @Test func keysInCommentsAndStringsAreSkipped() throws {
        let found = try problems(
            """
            // concurrency: 0 was too low
            {
              /* pollInterval: 2,
                 concurrency: 0, { */
              secretsDirectory: "/etc/berth/concurrency: 0 {",
              engine: {passEnvironment: ['concurrency: 0', "}"], path: '/usr/bin/podman // not a comment'},
              defaultQueue: {concurrency: 0, cpus: 0x10},
              concurrency: 0,
              'pollInterval': 2,
            }
            """)
        #expect(found.map(\.keyPath) == ["concurrency", "pollInterval"], "\(found)")
        try #require(found.count == 2)
        #expect(found[0].line == 8)
        #expect(found[0].column == 3)
        #expect(found[1].line == 9)
        #expect(found[1].column == 3)
    }

    @Test func nestedObjectsAndArraysNameTheirPath() throws {
        let found = try problems(
            """
            {
              engine: {
                extraRunFlags: [
                  "--init",
                  "-v",
                ],
                passEnvironment: ["HOME", 7],
              },
              queues: {
                gpu: {
                  retry: {maxAttempts: 500},
                },
                'batch.nightly': {memroy: "1g", timeout: "forever"},
                "with\\u0020space": {},
              },
            }
            """)
        let expected: [(keyPath: String, line: Int, column: Int)] = [
            ("engine.extraRunFlags[1]", 5, 7),
            ("engine.passEnvironment[1]", 7, 31),
            ("queues.gpu.retry.maxAttempts", 11, 15),
            ("queues.batch.nightly.memroy", 13, 23),
            ("queues.batch.nightly.timeout", 13, 37),
            ("queues.with space", 14, 5),
        ]
        #expect(found.count == expected.count, "\(found)")
        for (problem, expectation) in zip(found, expected) {
            #expect(problem.keyPath == expectation.keyPath)
            #expect(problem.line == expectation.line, "\(problem)")
            #expect(problem.column == expectation.column, "\(problem)")
        }
    }

    /// Foundation's reader keeps the first of two equal keys, so the error points at the first.
    @Test func repeatedKeyIsReportedAtItsFirstPlace() throws {
        let found = try problems("{\n  concurrency: 0,\n  concurrency: 2,\n}")
        #expect(found.count == 2, "\(found)")
        #expect(found.allSatisfy { $0.line == 2 }, "\(found)")
        #expect(found.contains { $0.message.contains("appears again at line 3, column 3") }, "\(found)")
        #expect(found.contains { $0.message.contains("out of range") }, "\(found)")
    }
}


@Suite struct JSON5SyntaxLocatorTests {
    private func place(_ path: JSONKeyPath, in text: String) -> String? {
        let bytes = Array(text.utf8)
        return JSON5SyntaxLocator.keyOffsets(in: bytes)[path].map { offset in
            let (line, column) = JSON5SyntaxLocator.lineAndColumn(of: offset, in: bytes)
            return "\(line):\(column)"
        }
    }

    @Test func keyOffsetsFollowJSON5() {
        let text = """
            /* {a: 1} */ { // b: 2
              "a": {'b': [1, 0x1F, {c: 'x: }'}], d: +Infinity,},
              é: "\\\"", ключ: [[], [true]],
            }
            """
        let root = JSONKeyPath()
        #expect(place(root.appending("a"), in: text) == "2:3")
        #expect(place(root.appending("a").appending("b"), in: text) == "2:9")
        #expect(place(root.appending("a").appending("b").appending(index: 1), in: text) == "2:18")
        #expect(place(root.appending("a").appending("b").appending(index: 2).appending("c"), in: text) == "2:25")
        #expect(place(root.appending("a").appending("d"), in: text) == "2:38")
        #expect(place(root.appending("é"), in: text) == "3:3")
        #expect(place(root.appending("ключ").appending(index: 1).appending(index: 0), in: text) == "3:24")
        #expect(place(root.appending("b"), in: text) == nil, "a key in a comment is not a key")
        #expect(place(root.appending("c"), in: text) == nil)
        #expect(place(root.appending("x"), in: text) == nil, "text in a string is not a key")
    }

    @Test func keyOffsetsStopAtSyntaxError() {
        let text = "{a: 1, b: [2,, 3], c: 4}"
        #expect(place(JSONKeyPath().appending("a"), in: text) == "1:2")
        #expect(place(JSONKeyPath().appending("c"), in: text) == nil)
    }

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
        #expect(result.standardError.contains("\(path):1:17: defaultQueue.memroy: unknown key; did you mean memory?"), "\(result)")
        #expect(result.standardOutput.isEmpty)
    }

    /// A file with an unknown key on line 2 and an invalid duration on line 3.
    static let twoMistakes = "{\n  concurency: 2,\n  pollInterval: 2,\n}"

    @Test func daemonPrintsEveryProblem() async throws {
        let sandbox = try DaemonSandbox()
        let path = try sandbox.write(Self.twoMistakes, to: "bad.json5")

        let result = try await sandbox.berth(["daemon", "--config", path])
        #expect(result.status == 78)
        let lines = result.standardError.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(result)")
        #expect(lines.first?.hasPrefix("berth daemon: invalid configuration: \(path):2:3: concurency: unknown key; did you mean concurrency?") == true, "\(result)")
        #expect(lines.last?.hasPrefix("berth daemon: invalid configuration: \(path):3:3: pollInterval: the number 2 is not a duration") == true, "\(result)")
    }

    @Test func doctorPrintsEveryProblem() async throws {
        let sandbox = try DaemonSandbox()
        let path = try sandbox.write(Self.twoMistakes, to: "bad.json5")

        let result = try await sandbox.berth(["doctor", "--config", path])
        #expect(result.status == 1)
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(result)")
        #expect(lines.first?.hasPrefix("FAIL  configuration: \(path):2:3: concurency: unknown key") == true, "\(result)")
        #expect(lines.dropFirst().first?.hasPrefix("      \(path):3:3: pollInterval: the number 2") == true, "\(result)")
        #expect(lines.dropFirst(2).first?.hasPrefix("      fix: ") == true, "\(result)")
        // The checks that need the configuration's settings are reported as skipped.
        #expect(lines.last?.hasPrefix("skip  database, directories and engine: ") == true, "\(result)")
    }

    /// A file that cannot be read or parsed names no key, so doctor's fix
    /// points at the message instead of at keys and values.
    @Test(arguments: ["missing", "syntax"])
    func doctorFixForWholeFileProblem(kind: String) async throws {
        let sandbox = try DaemonSandbox()
        let path = kind == "missing"
            ? sandbox.directory.appendingPathComponent("missing.json5").path
            : try sandbox.write("{concurrency: 2,, }", to: "syntax.json5")

        let result = try await sandbox.berth(["doctor", "--config", path])
        let lines = result.standardOutput.split(separator: "\n").map(String.init)

        #expect(result.status == 1)
        #expect(lines.first?.hasPrefix("FAIL  configuration: \(path): ") == true, "\(result)")
        #expect(lines.contains("      fix: do what the message above says; config/berth.json5 is a documented example"), "\(result)")
        #expect(!result.standardOutput.contains("keys and values named above"), "\(result)")
    }

    @Test func unreadableConfigurationExits78() async throws {
        let sandbox = try DaemonSandbox()
        let path = sandbox.directory.appendingPathComponent("missing.json5").path

        let result = try await sandbox.berth(["daemon", "--config", path])
        #expect(result.status == 78)
        #expect(result.standardError.contains("cannot read the file: no such file; give the path of a configuration with --config"))
    }

    @Test func configurationDirectoryIsNamed() {
        #expect(DaemonConfiguration.readProblem(NSTemporaryDirectory()).hasPrefix("it is a directory"))
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

        let result = try await SpawnedProcess.run(
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

    @Test func effectiveDescriptionPrintsEmptyArraysOnOneLine() throws {
        let description = try DaemonConfiguration.parse(Data("{engine: {extraRunFlags: []}}".utf8), file: "test.json5").effectiveDescription

        #expect(description.contains(#""extraRunFlags" : []"#), "\(description)")
        #expect(try JSONSerialization.jsonObject(with: Data(description.utf8)) is [String: Any])
    }
}

import BerthTestSupport
import Foundation
import Testing

/// A temporary directory with a fresh database path, removed when the test ends.
final class Sandbox {
    private let temporaryDirectory: TemporaryDirectory
    /// Path of the test's database; the file exists only after the first `berth` run.
    let databasePath: String

    /// Maximum time a single `berth` run may take before the test kills it and fails.
    static let commandTimeout: Duration = .seconds(60)

    init() throws {
        temporaryDirectory = try TemporaryDirectory(prefix: "berth-cli")
        databasePath = temporaryDirectory.path("berth.db")
    }

    var directory: URL { temporaryDirectory.url }

    /// Returns the environment of every `berth` run: the test's own without
    /// any `BERTH_*` variable, so a developer's `BERTH_DB` cannot leak in.
    func environment(adding extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("BERTH_") }
        environment["HOME"] = directory.path
        environment.merge(extra) { _, new in new }
        return environment
    }

    /// Starts `berth --db DATABASE arguments` without waiting for it, with
    /// standard input read from `inputPath` (`/dev/null` when nil).
    func start(_ arguments: [String], inputPath: String? = nil, database: String? = nil) throws -> SpawnedProcess {
        try SpawnedProcess(
            try BerthBinary.require(), ["--db", database ?? databasePath] + arguments, environment: environment(),
            standardInput: inputPath.map(StandardInput.file) ?? .nullDevice)
    }

    /// Runs `berth --db DATABASE arguments` and waits for it.
    func run(_ arguments: [String], input: String? = nil, database: String? = nil) throws -> CommandResult {
        let inputPath = try input.map { try write($0, to: "stdin-\(UUID().uuidString)") }
        return try start(arguments, inputPath: inputPath, database: database).waitBlocking(timeout: Self.commandTimeout)
    }

    /// Runs `berth arguments` exactly as given, with `environment` added.
    func runWithoutDatabaseOption(_ arguments: [String], environment extra: [String: String] = [:]) throws -> CommandResult {
        try SpawnedProcess.runBlocking(
            try BerthBinary.require(), arguments, environment: environment(adding: extra), timeout: Self.commandTimeout)
    }

    /// Writes `text` to a file in the sandbox and returns its path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        try temporaryDirectory.write(text, to: name)
    }

    /// Submits one job and returns its id.
    func submit(_ options: [String] = [], command: [String] = ["true"]) throws -> Int64 {
        let result = try run(["submit", "--image", "alpine:3.20"] + options + ["--"] + command)
        try #require(result.status == 0, "berth submit failed: \(result)")
        return try #require(Int64(result.standardOutput.trimmingCharacters(in: .newlines)), "no id in: \(result)")
    }

    /// Lists jobs with `berth ls --json`, newest first; none when no command
    /// has created the database yet.
    func listJobs(_ options: [String] = []) throws -> [ListedJob] {
        guard FileManager.default.fileExists(atPath: databasePath) else { return [] }
        let limit = options.contains("--limit") ? [] : ["--limit", "100000"]
        let result = try run(["ls", "--json"] + limit + options)
        try #require(result.status == 0, "berth ls failed: \(result)")
        return try result.lines.map { try JSONDecoder().decode(ListedJob.self, from: Data($0.utf8)) }
    }

    /// Runs SQL on the test database with the system `sqlite3` shell and returns its output.
    @discardableResult
    func sqlite(_ sql: String) throws -> String {
        let shell = "/usr/bin/sqlite3"
        try #require(
            FileManager.default.isExecutableFile(atPath: shell),
            "these tests edit the database with \(shell); install the Debian package sqlite3")
        // Spawned and reaped as the berth runs are, because Foundation's
        // Process.waitUntilExit has been seen to miss a child's exit.
        let result = try SpawnedProcess.runBlocking(
            shell, ["-bail", databasePath, sql], environment: environment(), timeout: Self.commandTimeout)
        try #require(result.status == 0, "sqlite3 failed on: \(sql): \(result)")
        return result.standardOutput
    }
}

/// The fields of one `berth ls --json` line that the tests read.
struct ListedJob: Decodable {
    let id: Int64
    let state: String
    let queue: String
    let cancelRequested: Bool
    let finishedAt: String?
    let spec: JSONValue
}

import BerthCore
import BerthStore
import Foundation

/// Settings shared by every benchmark, and the helpers they use to set up
/// databases, the `sqlite3` shell and job specs.
struct Bench {
    /// Small sizes that prove each measurement still works, for CI.
    var quick = false
    /// Repetitions of each measurement; nil for each benchmark's own default.
    var repetitionsOverride: Int?
    var workDirectory = "/tmp/berth-bench"
    var berth = Bench.siblingExecutable("berth")
    var sqlite3 = "sqlite3"
    var podman = "podman"
    var image = "localhost/berth-test:latest"

    /// The path of `name` in the directory of this executable, where
    /// `swift build` puts every product of the package.
    static func siblingExecutable(_ name: String) -> String {
        let own = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return own.deletingLastPathComponent().appendingPathComponent(name).path
    }

    func repetitions(full: Int, quick quickCount: Int = 2) -> Int {
        repetitionsOverride ?? (quick ? quickCount : full)
    }

    /// A new, empty directory for one benchmark under the work directory.
    func directory(_ name: String) throws -> String {
        let path = workDirectory + "/" + name
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Creates a database through berth's own store, so it has berth's schema, pragmas and migrations.
    func createDatabase(_ path: String) throws {
        removeDatabase(path)
        _ = try JobStore(options: DatabaseOptions(path: path))
    }

    func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm"] {
            unlink(path + suffix)
        }
    }

    /// The schema as the `sqlite3` shell dumps it from a database berth created.
    func dumpedSchema() throws -> String {
        let source = workDirectory + "/schema-source.db"
        try createDatabase(source)
        defer { removeDatabase(source) }
        let dump = try Subprocess.output([sqlite3, source, ".schema"])
        // SQLite creates its own tables, such as sqlite_sequence for
        // AUTOINCREMENT, and rejects a script that creates them.
        return dump.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("CREATE TABLE sqlite_") }
            .joined(separator: "\n")
    }

    /// Creates a database for a reference run: berth's dumped schema, in WAL mode, loaded by the shell.
    func createReferenceDatabase(_ path: String, schema: String) throws {
        removeDatabase(path)
        try runScript("PRAGMA journal_mode = WAL;\n" + schema, database: path)
    }

    /// Runs an SQL script through the `sqlite3` shell.
    func runScript(_ script: String, database: String) throws {
        let file = Subprocess.temporaryFile("script.sql")
        defer { unlink(file) }
        try script.write(toFile: file, atomically: false, encoding: .utf8)
        try Subprocess.timed([sqlite3, "-bail", database], standardInput: file)
    }

    /// Runs one query through the `sqlite3` shell and returns its output, trimmed.
    func query(_ sql: String, database: String) throws -> String {
        try Subprocess.output([sqlite3, "-bail", database, sql]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func count(_ sql: String, database: String) throws -> Int {
        Int(try query(sql, database: database)) ?? -1
    }

    /// Fails unless the test image exists locally; the benchmarks never pull.
    func requireImage() throws {
        let pid = try Subprocess.spawn([podman, "image", "exists", image])
        guard Subprocess.wait(pid) == 0 else {
            throw BenchError("the image \(image) is not in podman's local storage; build it from Tests/Fixtures/test-image "
                + "as .ci/quickstart does, and set CONTAINERS_CONF=Tests/Fixtures/containers.conf")
        }
    }

    /// Prints the settings line of a benchmark and the load before it.
    func printHeader(_ title: String, settings: String) {
        print("== \(title)")
        print("settings: \(settings)")
        print("load before: \(Machine.load())")
        flushOutput()
    }

    func printFooter() {
        print("load after: \(Machine.load())")
        flushOutput()
    }
}

/// A benchmark that cannot run, with what to do about it.
struct BenchError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Quotes `text` as an SQL string literal.
func sqlLiteral(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
}

/// The wall clock in Unix milliseconds with a fraction, comparable with the
/// integer milliseconds berth stores.
func wallClockMilliseconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) * 1000 + Double(now.tv_nsec) / 1e6
}

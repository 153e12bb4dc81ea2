import Foundation
import Testing

@Suite("Database file")
struct DatabaseFileTests {
    @Test("newer schema rejected")
    func newerSchema() throws {
        let sandbox = try Sandbox()
        _ = try sandbox.submit()
        let supported = try #require(try sandbox.schemaVersion())
        let future = supported + 40
        try sandbox.sqlite("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(future), 'future', 0)")

        for arguments in [["ls"], ["submit", "--image", "alpine:3.20", "--", "true"]] {
            let result = try sandbox.run(arguments)

            #expect(result.status == 1)
            #expect(result.standardOutput == "")
            #expect(result.standardError.contains("schema version \(future)"))
            #expect(result.standardError.contains("up to \(supported)"))
        }
        #expect(try sandbox.sqlite("SELECT COUNT(*) FROM jobs") == "1\n")
    }

    @Test("new database has mode 0600")
    func fileMode() throws {
        let sandbox = try Sandbox()
        let result = try sandbox.run(["submit", "--image", "alpine:3.20", "--", "true"])
        let attributes = try FileManager.default.attributesOfItem(atPath: sandbox.databasePath)

        #expect(result.status == 0)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    /// A directory given as the database is named as the mistake, with the fix.
    @Test("directory as database explained")
    func directoryAsDatabase() throws {
        let sandbox = try Sandbox()
        let directory = sandbox.directory.path

        for arguments in [["ls"], ["submit", "--image", "alpine:3.20", "--", "true"]] {
            let result = try sandbox.run(arguments, database: directory)

            #expect(result.status == 1)
            #expect(result.standardError.contains("\(directory) is a directory; give --db (or $BERTH_DB) the path of the database file, such as \(directory)/berth.db"), "\(result.standardError)")
        }
    }

    /// A submit that creates the database reports it, because a mistyped path
    /// would otherwise queue jobs where no daemon looks.
    @Test("submit reports a new database once")
    func newDatabaseReported() throws {
        let sandbox = try Sandbox()
        let first = try sandbox.run(["submit", "--image", "alpine:3.20", "--", "true"])
        let second = try sandbox.run(["submit", "--image", "alpine:3.20", "--", "true"])

        #expect(first.status == 0)
        #expect(first.standardOutput == "1\n")
        #expect(first.standardError == "berth: created a new database at \(sandbox.databasePath); a daemon runs these jobs only with the same database path\n")
        #expect(second.status == 0)
        #expect(second.standardError == "")
    }

    /// Only submit creates a database, so a mistyped path is noticed.
    @Test("missing database not created by readers", arguments: [["ls"], ["stats"], ["show", "1"], ["workers"], ["cancel", "1"]])
    func missingDatabaseNotCreated(arguments: [String]) throws {
        let sandbox = try Sandbox()
        let result = try sandbox.run(arguments)

        #expect(result.status == 1)
        #expect(result.standardError.contains("no database at \(sandbox.databasePath)"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.databasePath))
    }

    @Test("new directory has mode 0700")
    func directoryMode() throws {
        let sandbox = try Sandbox()
        let directory = sandbox.directory.appendingPathComponent("state/berth")
        let path = directory.appendingPathComponent("jobs.db").path
        let result = try sandbox.run(["submit", "--image", "alpine:3.20", "--", "true"], database: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path)

        #expect(result.status == 0)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("existing file mode kept")
    func existingMode() throws {
        let sandbox = try Sandbox()
        _ = try sandbox.submit()
        chmod(sandbox.databasePath, 0o640)
        _ = try sandbox.submit()
        let attributes = try FileManager.default.attributesOfItem(atPath: sandbox.databasePath)

        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o640)
    }

    @Test("non-database file exits 1")
    func notADatabase() throws {
        let sandbox = try Sandbox()
        let path = try sandbox.write(String(repeating: "not an SQLite database\n", count: 20), to: "junk.db")
        let result = try sandbox.run(["ls"], database: path)

        #expect(result.status == 1)
        #expect(result.standardError.contains("is not an SQLite database"))
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("not an SQLite database"))
    }

    @Test("unwritable path exits 1")
    func unwritablePath() throws {
        let sandbox = try Sandbox()
        let blocker = try sandbox.write("not a directory", to: "blocker")
        let result = try sandbox.run(["ls"], database: blocker + "/berth.db")

        #expect(result.status == 1)
        #expect(result.standardError.contains(blocker))
    }
}

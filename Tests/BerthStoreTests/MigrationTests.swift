import BerthCore
@testable import BerthStore
import Foundation
import Testing

final class MigrationTests {
    let directory: TemporaryDirectory
    let path: String

    init() throws {
        directory = try TemporaryDirectory()
        path = directory.file("berth.db")
    }

    deinit {
        directory.remove()
    }

    /// The embedded migrations followed by one that a newer berth would add.
    var newerMigrations: [Migration] {
        let next = JobStore.supportedSchemaVersion + 1
        return EmbeddedMigrations.all + [
            Migration(version: next, name: "\(next)_add_notes", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);")
        ]
    }

    func appliedVersions(_ store: JobStore) throws -> [Int] {
        try store.connection.query("SELECT version FROM schema_migrations ORDER BY version") { $0.int(0) }
    }

    func tableExists(_ store: JobStore, _ name: String) throws -> Bool {
        try store.connection.queryFirst(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(name)]) { _ in true } ?? false
    }

    @Test func embeddedMigrationsNumbered() {
        let versions = EmbeddedMigrations.all.map(\.version)

        #expect(versions.first == 1)
        #expect(versions == Array(1...versions.count))
        #expect(JobStore.supportedSchemaVersion == versions.last)
    }

    @Test func freshDatabase() throws {
        let store = try openStore(path)

        #expect(try store.schemaVersion() == JobStore.supportedSchemaVersion)
        #expect(try appliedVersions(store) == EmbeddedMigrations.all.map(\.version))
        for table in ["jobs", "attempts", "events", "logs", "checkpoints", "workers"] {
            #expect(try tableExists(store, table), "table \(table)")
        }
    }

    @Test func freshDatabaseRecordsTime() throws {
        let store = try openStore(path, now: startTime)
        let times = try store.connection.query("SELECT applied_at FROM schema_migrations") { $0.int64(0) }

        #expect(times.allSatisfy { $0 == startTime })
    }

    @Test func openTwiceIdempotent() throws {
        let first = try openStore(path, now: startTime)
        let id = try first.submitOne()
        let second = try openStore(path, now: startTime + 60_000)

        #expect(try second.schemaVersion() == JobStore.supportedSchemaVersion)
        #expect(try appliedVersions(second) == EmbeddedMigrations.all.map(\.version))
        #expect(try second.connection.query("SELECT applied_at FROM schema_migrations") { $0.int64(0) }.allSatisfy { $0 == startTime })
        #expect(try second.job(id: id) != nil)
    }

    @Test func migrateTwiceIdempotent() throws {
        let store = try openStore(path)
        try Migrator.migrate(store.connection, now: startTime + 1)
        try Migrator.migrate(store.connection, now: startTime + 2)

        #expect(try appliedVersions(store) == EmbeddedMigrations.all.map(\.version))
    }

    @Test func versionOneDatabaseUpgraded() throws {
        let versionOne = try SQLiteConnection(path: path, busyTimeout: .seconds(5))
        try Migrator.migrate(versionOne, migrations: Array(EmbeddedMigrations.all.prefix(1)), now: startTime)
        try versionOne.execute(
            "INSERT INTO jobs (queue, state, run_at, spec, created_at, updated_at) VALUES ('default', 'queued', ?, ?, ?, ?)",
            [.integer(startTime), .text(makeSpec().encodedJSON()), .integer(startTime), .integer(startTime)])
        let readyIndexBefore = try versionOne.queryFirst("SELECT 1 FROM sqlite_master WHERE name = 'jobs_ready'") { _ in true }

        let store = try openStore(path)

        #expect(readyIndexBefore == nil)
        #expect(try appliedVersions(store) == EmbeddedMigrations.all.map(\.version))
        #expect(try store.connection.queryFirst("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'jobs_ready'") { _ in true } == true)
        #expect(try store.connection.queryFirst("SELECT 1 FROM sqlite_master WHERE name = 'jobs_leases'") { _ in true } == nil)
        #expect(try store.claimNext()?.spec == makeSpec())
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test func newerMigrationApplied() throws {
        let store = try openStore(path)
        try Migrator.migrate(store.connection, migrations: newerMigrations, now: startTime)

        #expect(try store.schemaVersion() == JobStore.supportedSchemaVersion + 1)
        #expect(try tableExists(store, "notes"))
    }

    @Test func newerSchemaRejected() throws {
        let newer = try openStore(path)
        try Migrator.migrate(newer.connection, migrations: newerMigrations, now: startTime)
        let supported = JobStore.supportedSchemaVersion

        let error = #expect(throws: StoreError.self) {
            try openStore(self.path)
        }

        #expect(error == .newerSchema(path: path, databaseVersion: supported + 1, supportedVersion: supported))
        #expect(error?.description.contains("schema version \(supported + 1)") == true)
        #expect(error?.description.contains("supports versions up to \(supported)") == true)
        #expect(error?.description.contains(path) == true)
    }

    @Test func newerSchemaRejectedReadOnly() throws {
        let newer = try openStore(path)
        try Migrator.migrate(newer.connection, migrations: newerMigrations, now: startTime)
        let supported = JobStore.supportedSchemaVersion

        #expect(throws: StoreError.newerSchema(path: path, databaseVersion: supported + 1, supportedVersion: supported)) {
            try JobStore(options: DatabaseOptions(path: self.path, readOnly: true))
        }
    }

    @Test func newerSchemaRejectedByMigrator() throws {
        let store = try openStore(path)
        try Migrator.migrate(store.connection, migrations: newerMigrations, now: startTime)
        let supported = JobStore.supportedSchemaVersion

        #expect(throws: StoreError.newerSchema(path: path, databaseVersion: supported + 1, supportedVersion: supported)) {
            try Migrator.migrate(store.connection, now: startTime)
        }
    }

    @Test func newerSchemaLeftUntouched() throws {
        let newer = try openStore(path)
        try Migrator.migrate(newer.connection, migrations: newerMigrations, now: startTime)

        _ = try? openStore(path)

        #expect(try appliedVersions(newer) == newerMigrations.map(\.version))
        #expect(try tableExists(newer, "notes"))
    }

    @Test func failedMigrationRolledBack() throws {
        let store = try openStore(path)
        let next = JobStore.supportedSchemaVersion + 1
        let broken = EmbeddedMigrations.all + [
            Migration(version: next, name: "\(next)_broken", sql: "CREATE TABLE half (x); INSERT INTO missing_table VALUES (1);")
        ]

        #expect(throws: SQLiteError.self) {
            try Migrator.migrate(store.connection, migrations: broken, now: startTime)
        }

        #expect(try store.schemaVersion() == JobStore.supportedSchemaVersion)
        #expect(try !tableExists(store, "half"))
    }

    @Test func concurrentOpenFreshDatabase() throws {
        let path = self.path
        let errors = runOnThreads(count: 8) { _ in
            let store = try openStore(path)
            _ = try store.submitOne()
        }

        #expect(errors == [])
        let store = try openStore(path)
        #expect(try appliedVersions(store) == EmbeddedMigrations.all.map(\.version))
        #expect(try store.jobs(matching: JobFilter()).count == 8)
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test(arguments: 1...5)
    func concurrentOpenRepeated(round: Int) throws {
        let path = directory.file("round-\(round).db")
        let errors = runOnThreads(count: 4) { _ in
            _ = try openStore(path)
        }

        #expect(errors == [])
        #expect(try openStore(path).schemaVersion() == JobStore.supportedSchemaVersion)
    }

    @Test func newFileMode() throws {
        _ = try openStore(path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)

        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func walFileMode() throws {
        let store = try openStore(path)
        _ = try store.submitOne()
        let attributes = try FileManager.default.attributesOfItem(atPath: path + "-wal")

        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func missingDirectoryCreated() throws {
        let nested = directory.file("state/berth/berth.db")
        _ = try openStore(nested)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file("state/berth"))

        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        #expect(FileManager.default.fileExists(atPath: nested))
    }

    @Test func existingFileModeKept() throws {
        let created = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640])
        #expect(created)
        _ = try openStore(path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)

        #expect((attributes[.posixPermissions] as? Int) == 0o640)
    }

    @Test func journalModeWAL() throws {
        let store = try openStore(path)

        #expect(try store.connection.queryFirst("PRAGMA journal_mode") { $0.text(0) } == "wal")
    }

    @Test func journalModePersists() throws {
        _ = try openStore(path)
        let other = try SQLiteConnection(path: path, busyTimeout: .seconds(5))

        #expect(try other.queryFirst("PRAGMA journal_mode") { $0.text(0) } == "wal")
    }

    @Test func foreignKeysOn() throws {
        let store = try openStore(path)

        #expect(try store.connection.queryFirst("PRAGMA foreign_keys") { $0.int(0) } == 1)
    }

    @Test func foreignKeysEnforced() throws {
        let store = try openStore(path)

        let error = #expect(throws: SQLiteError.self) {
            try store.connection.execute(
                "INSERT INTO attempts (job_id, attempt, worker_id, claimed_at) VALUES (?, 1, 'w', ?)",
                [.integer(999), .integer(startTime)])
        }

        #expect(error?.isConstraintViolation == true)
    }

    @Test func busyTimeoutSet() throws {
        let store = try JobStore(options: DatabaseOptions(path: path, busyTimeout: .seconds(7)), now: startTime)

        #expect(try store.connection.queryFirst("PRAGMA busy_timeout") { $0.int(0) } == 7000)
    }

    @Test(arguments: [(DatabaseOptions.Synchronous.normal, 1), (.full, 2)])
    func synchronousSet(synchronous: DatabaseOptions.Synchronous, pragmaValue: Int) throws {
        let store = try JobStore(options: DatabaseOptions(path: path, synchronous: synchronous), now: startTime)

        #expect(try store.connection.queryFirst("PRAGMA synchronous") { $0.int(0) } == pragmaValue)
    }

    @Test func integrityCheckOK() throws {
        let store = try openStore(path)

        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test func readOnlyOpen() throws {
        let writer = try openStore(path)
        let id = try writer.submitOne()
        let reader = try JobStore(options: DatabaseOptions(path: path, readOnly: true))

        #expect(try reader.job(id: id) != nil)
        #expect(throws: SQLiteError.self) { try reader.submitOne() }
    }
}

/// One numbered schema change from `migrations/`, embedded at build time.
struct Migration: Sendable {
    let version: Int
    let name: String
    let sql: String
}

/// Applies the embedded migrations that a database lacks.
///
/// Each migration runs in its own `BEGIN IMMEDIATE` transaction together with
/// its row in `schema_migrations`, and checks inside that transaction whether
/// another process applied it first, so two processes opening a fresh
/// database at once both succeed.
enum Migrator {
    static let bookkeepingTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     INTEGER PRIMARY KEY,
            name        TEXT    NOT NULL,
            applied_at  INTEGER NOT NULL
        )
        """

    /// The newest schema version this build knows.
    static var latestVersion: Int { EmbeddedMigrations.all.last?.version ?? 0 }

    static func migrate(_ connection: SQLiteConnection, migrations: [Migration] = EmbeddedMigrations.all, now: Int64) throws {
        let supported = migrations.last?.version ?? 0
        try connection.writeTransaction {
            try connection.executeScript(bookkeepingTable)
        }

        for migration in migrations {
            try connection.writeTransaction {
                let applied = try appliedVersion(connection)
                if applied > supported {
                    throw StoreError.newerSchema(path: connection.path, databaseVersion: applied, supportedVersion: supported)
                }
                let alreadyApplied = try connection.queryFirst(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", [.integer(Int64(migration.version))]) { _ in true } ?? false
                guard !alreadyApplied else { return }

                try connection.executeScript(migration.sql)
                try connection.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [.integer(Int64(migration.version)), .text(migration.name), .integer(now)])
            }
        }

        // A database that needed no migration can still be newer than this build.
        let applied = try appliedVersion(connection)
        if applied > supported {
            throw StoreError.newerSchema(path: connection.path, databaseVersion: applied, supportedVersion: supported)
        }
    }

    static func appliedVersion(_ connection: SQLiteConnection) throws(SQLiteError) -> Int {
        try connection.queryFirst("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") { $0.int(0) } ?? 0
    }
}

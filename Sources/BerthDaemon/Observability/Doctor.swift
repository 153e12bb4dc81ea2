import BerthCore
import BerthEngine
import BerthStore
import Foundation

/// The result of one `berth doctor` check.
public struct DoctorCheck: Sendable, Equatable {
    /// Name of the check, such as "database integrity".
    public var name: String
    public var passed: Bool
    /// Finding: the value checked, or the failure.
    public var detail: String
    /// Remedy for a failure; nil when the check passed.
    public var fix: String?

    static func pass(_ name: String, _ detail: String) -> DoctorCheck {
        DoctorCheck(name: name, passed: true, detail: detail, fix: nil)
    }

    static func fail(_ name: String, _ detail: String, fix: String) -> DoctorCheck {
        DoctorCheck(name: name, passed: false, detail: detail, fix: fix)
    }
}

/// Checks what breaks a worker host: the database, the directories, the
/// engine and, with an image, a container started with the configured limits.
///
/// Doctor never creates or migrates the database: it opens it read-only.
public struct Doctor: Sendable {
    public let configuration: DaemonConfiguration
    public let databasePath: String
    private let environment: [String: String]

    public init(configuration: DaemonConfiguration, databasePath: String, environment: [String: String]) {
        self.configuration = configuration
        self.databasePath = databasePath
        self.environment = environment
    }

    /// Loads the configuration file at `path`, or the built-in defaults when `path` is nil.
    public static func checkConfiguration(path: String?) -> (DoctorCheck, DaemonConfiguration?) {
        guard let path else {
            return (.pass("configuration", "no file; the built-in defaults apply"), DaemonConfiguration())
        }
        do {
            let configuration = try DaemonConfiguration.load(path: path)
            return (.pass("configuration", "\(path) is valid"), configuration)
        } catch {
            // A problem of the whole file, such as a syntax error or a missing
            // file, names no key, and its message already states what to do.
            let namesKeys = error.problems.contains { !$0.keyPath.isEmpty }
            let fix = namesKeys
                ? "correct the keys and values named above; config/berth.json5 documents every key"
                : "do what the message above says; config/berth.json5 is a documented example"
            return (.fail("configuration", "\(error)", fix: fix), nil)
        }
    }

    /// Runs every check after the configuration's, in order; `image` adds the container check.
    public func run(image: String?) async -> [DoctorCheck] {
        var checks = checkDatabase()
        let owner = expectedOwner()
        checks += checkDirectories(owner: owner)

        let engine: ContainerEngine
        switch makeEngine() {
        case .success(let found):
            engine = found
        case .failure(let error):
            checks.append(.fail("engine", "\(error)", fix: "install podman or docker, or set engine.kind and engine.path"))
            return checks
        }
        do {
            try await engine.ping()
            checks.append(.pass("engine", "\(engine.kind.rawValue) at \(engine.executablePath) answers"))
        } catch {
            checks.append(.fail(
                "engine", "\(engine.kind.rawValue) at \(engine.executablePath) does not answer: \(error)",
                fix: "start the engine (systemctl start docker, or podman.socket), and check that this user may use it"))
            return checks
        }

        if let image {
            checks += await checkContainer(engine: engine, image: image)
        }
        return checks
    }

    // MARK: Database

    private func checkDatabase() -> [DoctorCheck] {
        guard FileManager.default.fileExists(atPath: databasePath) else {
            return [.fail("database", "\(databasePath) does not exist", fix: "start berth daemon once, which creates and migrates it, or point --db at the database")]
        }
        var checks: [DoctorCheck] = []
        let store: JobStore
        do {
            store = try JobStore(options: DatabaseOptions(path: databasePath, busyTimeout: .seconds(5), readOnly: true))
            checks.append(.pass("database", "\(databasePath) opens"))
        } catch {
            return [.fail("database", "\(databasePath) does not open: \(error)", fix: "check the path and that this user can read the file and its directory")]
        }

        do {
            let problems = try store.integrityCheck()
            if problems == ["ok"] {
                checks.append(.pass("database integrity", "PRAGMA integrity_check returned ok"))
            } else {
                let summary = problems.prefix(3).joined(separator: "; ")
                checks.append(.fail("database integrity", "PRAGMA integrity_check found \(problems.count) problems: \(summary)",
                                    fix: "stop the daemons, keep a copy of the file, and restore it from a backup"))
            }
        } catch {
            checks.append(.fail("database integrity", "PRAGMA integrity_check failed: \(error)", fix: "stop the daemons and check the file with sqlite3"))
        }

        do {
            let version = try store.schemaVersion()
            let supported = JobStore.supportedSchemaVersion
            if version == supported {
                checks.append(.pass("database schema", "version \(version)"))
            } else if version < supported {
                checks.append(.fail("database schema", "version \(version), this berth expects \(supported)",
                                    fix: "start berth daemon, which migrates the database"))
            } else {
                checks.append(.fail("database schema", "version \(version) is newer than the \(supported) this berth knows",
                                    fix: "upgrade berth on this host"))
            }
        } catch {
            checks.append(.fail("database schema", "cannot read the schema version: \(error)", fix: "check the file with sqlite3"))
        }

        checks += checkDatabaseModes()
        return checks
    }

    /// The database and its WAL files must not be readable by others or
    /// writable by the group; jobs' specs and output are in them.
    private func checkDatabaseModes() -> [DoctorCheck] {
        var unsafe: [String] = []
        for path in [databasePath, databasePath + "-wal", databasePath + "-shm"] {
            guard let info = Self.status(path) else { continue }
            if info.st_mode & 0o027 != 0 {
                unsafe.append("\(path) has mode \(Self.octal(info.st_mode))")
            }
        }
        let directory = (databasePath as NSString).deletingLastPathComponent
        if let info = Self.status(directory), info.st_mode & 0o022 != 0 {
            unsafe.append("\(directory) has mode \(Self.octal(info.st_mode)) and is writable by others")
        }
        if unsafe.isEmpty {
            return [.pass("database file modes", "the database is readable by its owner (and group) only")]
        }
        return [.fail("database file modes", unsafe.joined(separator: "; "),
                      fix: "chmod 600 \(databasePath) (640 for an admin group), and chmod go-w on its directory")]
    }

    // MARK: Directories

    /// Returns the user the daemon runs as: the database file's owner, else this process's user.
    private func expectedOwner() -> uid_t {
        Self.status(databasePath)?.st_uid ?? geteuid()
    }

    private func checkDirectories(owner: uid_t) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let directories = [
            ("workspaces directory", configuration.directories.workspaces),
            ("checkpoints directory", configuration.directories.checkpoints),
            ("runtime directory", configuration.directories.runtime),
        ]
        let ownerName = Self.userName(owner)
        for (name, path) in directories {
            guard let info = Self.status(path) else {
                checks.append(.fail(name, "\(path) does not exist",
                                    fix: "start berth daemon once, which creates it, or run install -d -m 0755 -o \(ownerName) \(path)"))
                continue
            }
            if info.st_mode & S_IFMT != S_IFDIR {
                checks.append(.fail(name, "\(path) is not a directory", fix: "move the file away and start berth daemon, which creates the directory"))
            } else if info.st_uid != owner {
                checks.append(.fail(name, "\(path) is owned by \(Self.userName(info.st_uid)), the daemon runs as \(ownerName)",
                                    fix: "chown \(ownerName) \(path)"))
            } else if info.st_mode & 0o022 != 0 {
                checks.append(.fail(name, "\(path) has mode \(Self.octal(info.st_mode)) and is writable by other users",
                                    fix: "chmod go-w \(path)"))
            } else {
                checks.append(.pass(name, "\(path), owned by \(ownerName), mode \(Self.octal(info.st_mode))"))
            }
        }
        checks.append(checkSecretsDirectory(owner: owner, ownerName: ownerName))
        return checks
    }

    /// Secret files are read only when they are private to the daemon's user.
    private func checkSecretsDirectory(owner: uid_t, ownerName: String) -> DoctorCheck {
        let path = configuration.secretsDirectory
        guard let info = Self.status(path) else {
            return .pass("secrets directory", "\(path) does not exist; secrets come from the daemon's environment")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            return .fail("secrets directory", "\(path) is not a directory", fix: "move the file away, or set secretsDirectory")
        }
        if info.st_mode & 0o077 != 0 {
            return .fail("secrets directory", "\(path) has mode \(Self.octal(info.st_mode))", fix: "chmod 700 \(path)")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let exposed = entries.sorted().filter { entry in
            guard let file = Self.status(path + "/" + entry) else { return false }
            return file.st_mode & 0o077 != 0 || file.st_uid != owner
        }
        if !exposed.isEmpty {
            return .fail("secrets directory", "secret files not private to \(ownerName): \(exposed.joined(separator: ", "))",
                         fix: "chown \(ownerName) and chmod 600 each of them in \(path)")
        }
        return .pass("secrets directory", "\(path) and its \(entries.count) files are private to \(ownerName)")
    }

    // MARK: Engine

    private func makeEngine() -> Result<ContainerEngine, ContainerEngineError> {
        Result { () throws(ContainerEngineError) -> ContainerEngine in
            let engineEnvironment = try EngineEnvironment.inheriting(configuration.engine.passEnvironment, from: environment)
            let selection: EngineSelection = switch configuration.engine.kind {
            case .auto: .automatic
            case .podman: .podman
            case .docker: .docker
            }
            return try ContainerEngine(configuration: ContainerEngineConfiguration(
                selection: selection, executable: configuration.engine.path, environment: engineEnvironment,
                commandTimeout: .milliseconds(configuration.engine.callTimeout.milliseconds)))
        }
    }

    // MARK: File status

    private static func status(_ path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }

    static func octal(_ mode: mode_t) -> String {
        "0" + String(mode & 0o7777, radix: 8)
    }

    private static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "\(uid)" }
        return String(cString: name)
    }
}

import BerthCore
import BerthStore
import Foundation

extension DaemonConfiguration {
    public static let defaultPath = "/etc/berth/berth.json5"

    /// Reads and validates the JSON5 file at `path`.
    public static func load(path: String) throws(ConfigurationError) -> DaemonConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError(file: path, problem: "cannot read the file: \(readProblem(path))")
        }
        return try parse(data, file: path)
    }

    /// Names why the file at `path` cannot be read, and what to do, in place
    /// of Foundation's message, which does not name the cause.
    static func readProblem(_ path: String) -> String {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT {
                return "no such file; give the path of a configuration with --config, or copy config/berth.json5 from berth's source to \(path)"
            }
            return String(cString: strerror(errno))
        }
        if status.st_mode & S_IFMT == S_IFDIR {
            return "it is a directory; give the path of the configuration file with --config"
        }
        if access(path, R_OK) != 0 {
            return "\(String(cString: strerror(errno))); the daemon's user needs read access to it"
        }
        return "the read failed; check the file system and the daemon's log"
    }

    /// Validates the JSON5 text `data`; `file` names it in errors.
    ///
    /// A syntax error stops at the first one. Otherwise every invalid key and
    /// value of the file is reported in one error, each with its line.
    public static func parse(_ data: Data, file: String) throws(ConfigurationError) -> DaemonConfiguration {
        let root: JSONValue
        do {
            root = try JSONValue.parseJSON5(data)
        } catch {
            let located = JSON5SyntaxLocator.firstProblem(in: Array(data)).map(\.description)
            throw ConfigurationError(file: file, problem: "not valid JSON5: \(located ?? Self.syntaxProblem(error))")
        }
        guard case .object(let dictionary) = root else {
            throw ConfigurationError(file: file, problem: "expected an object at the top level, found \(root.summary)")
        }

        let problems = ConfigurationProblems()
        let bytes = Array(data)
        for repeated in JSON5SyntaxLocator.repeatedKeys(in: bytes) {
            let (line, column) = JSON5SyntaxLocator.lineAndColumn(of: repeated.offset, in: bytes)
            problems.add("appears again at line \(line), column \(column); berth would use only the first value, so keep one", at: repeated.path)
        }
        let configuration = read(ConfigurationObject(dictionary, path: JSONKeyPath(), problems: problems))
        guard problems.isEmpty else {
            throw ConfigurationError(file: file, problems: locate(problems, in: Array(data)))
        }
        return configuration
    }

    /// Adds the line and column of each problem's key, and orders the problems by line.
    private static func locate(_ problems: ConfigurationProblems, in bytes: [UInt8]) -> [ConfigurationError.Problem] {
        let offsets = JSON5SyntaxLocator.keyOffsets(in: bytes)
        let located = problems.items.map { item in
            // A path missing from the map falls back to its nearest enclosing key.
            var path = item.path
            while offsets[path] == nil, !path.isEmpty {
                path = path.parent
            }
            let position = offsets[path].map { JSON5SyntaxLocator.lineAndColumn(of: $0, in: bytes) }
            return ConfigurationError.Problem(
                keyPath: item.path.description, line: position?.line, column: position?.column, message: item.message)
        }

        // Problems at the same place keep the order in which they were found.
        let ordered = located.enumerated().sorted { first, second in
            let firstPlace = (first.element.line ?? 0, first.element.column ?? 0, first.offset)
            let secondPlace = (second.element.line ?? 0, second.element.column ?? 0, second.offset)
            return firstPlace < secondPlace
        }
        return ordered.map(\.element)
    }

    private static func syntaxProblem(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let cause = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return cause ?? context.debugDescription
        }
        return "\(error)"
    }

    private static func read(_ root: ConfigurationObject) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()

        if let database = root.object("database") {
            configuration.database.path = absolutePath(database, "path") ?? configuration.database.path
            configuration.database.synchronous = database.choice("synchronous", DatabaseOptions.Synchronous.self) ?? .normal
            configuration.database.busyTimeout = database.duration("busyTimeout", in: .seconds(1)...(.minutes(10))) ?? configuration.database.busyTimeout
            if let group = database.string("adminGroup") {
                if getgrnam(group) != nil {
                    configuration.database.adminGroup = group
                } else {
                    database.report("adminGroup", "group \"\(group)\" not found; create it (groupadd \(group)) or remove the key")
                }
            }
            database.finish(validKeys: ["path", "synchronous", "busyTimeout", "adminGroup"])
        }

        if let directories = root.object("directories") {
            configuration.directories.workspaces = absolutePath(directories, "workspaces") ?? configuration.directories.workspaces
            configuration.directories.checkpoints = absolutePath(directories, "checkpoints") ?? configuration.directories.checkpoints
            configuration.directories.runtime = absolutePath(directories, "runtime") ?? configuration.directories.runtime
            configuration.directories.containerLogs = absolutePath(directories, "containerLogs")
            directories.finish(validKeys: ["workspaces", "checkpoints", "runtime", "containerLogs"])
        }

        if let workerID = root.string("workerID") {
            if isValidWorkerID(workerID) {
                configuration.workerID = workerID
            } else {
                root.report("workerID", "\"\(workerID)\" is not valid; expected \(workerIDRule)")
            }
        }

        if let engine = root.object("engine") {
            configuration.engine.kind = engine.choice("kind", EngineKind.self) ?? .auto
            configuration.engine.path = absolutePath(engine, "path")
            configuration.engine.callTimeout = engine.duration("callTimeout", in: .seconds(1)...(.minutes(30))) ?? configuration.engine.callTimeout
            configuration.engine.extraRunFlags = engine.strings("extraRunFlags") ?? []
            for (index, flag) in configuration.engine.extraRunFlags.enumerated() where !flag.hasPrefix("--") {
                engine.report(
                    "extraRunFlags", at: index, "\"\(flag)\" is not a long flag; write each flag as --name=value in one string")
            }
            configuration.engine.passEnvironment = engine.strings("passEnvironment") ?? configuration.engine.passEnvironment
            configuration.engine.pullPolicy = engine.choice("pullPolicy", PullPolicy.self) ?? configuration.engine.pullPolicy
            engine.finish(validKeys: ["kind", "path", "callTimeout", "extraRunFlags", "passEnvironment", "pullPolicy"])
        }

        configuration.concurrency = root.integer("concurrency", in: 1...1024) ?? configuration.concurrency

        if let defaultQueue = root.object("defaultQueue") {
            configuration.defaultQueue = readQueue(defaultQueue, base: DaemonConfiguration.Queue(), allowZeroConcurrency: true)
        }
        if let queues = root.object("queues") {
            for name in queues.remainingKeys {
                guard Self.queueName.matches(name) else {
                    queues.report(name, "\"\(name)\" is not a valid queue name; expected 1 to 64 letters, digits, '.', '_' or '-'")
                    continue
                }
                guard let queue = queues.object(name) else { continue }
                configuration.queues[name] = readQueue(queue, base: configuration.defaultQueue, allowZeroConcurrency: false)
            }
        }

        configuration.leaseDuration = root.duration("leaseDuration", in: .seconds(5)...(.hours(1))) ?? configuration.leaseDuration
        configuration.heartbeatInterval = root.duration("heartbeatInterval", in: TimeSpan(milliseconds: 100)...(.minutes(20))) ?? configuration.heartbeatInterval
        if !root.hasProblem("leaseDuration"), !root.hasProblem("heartbeatInterval"),
            configuration.heartbeatInterval.milliseconds * 2 > configuration.leaseDuration.milliseconds
        {
            root.report("heartbeatInterval", "\(configuration.heartbeatInterval) must be at most half of leaseDuration (\(configuration.leaseDuration)), so a lease is renewed well before it expires")
        }
        configuration.pollInterval = root.duration("pollInterval", in: TimeSpan(milliseconds: 50)...(.minutes(10))) ?? configuration.pollInterval
        configuration.workspaceRetention = root.duration("workspaceRetention", in: .seconds(0)...(.days(3650))) ?? configuration.workspaceRetention

        if let shutdown = root.object("shutdown") {
            configuration.shutdown.mode = shutdown.choice("mode", ShutdownMode.self) ?? .drain
            configuration.shutdown.deadline = shutdown.duration("deadline", in: .seconds(1)...(.hours(6))) ?? configuration.shutdown.deadline
            shutdown.finish(validKeys: ["mode", "deadline"])
        }

        configuration.secretsDirectory = absolutePath(root, "secretsDirectory") ?? configuration.secretsDirectory

        if let output = root.object("output") {
            configuration.output.maxLineBytes = output.size("maxLineBytes", in: .kibibytes(1)...(.mebibytes(256))) ?? configuration.output.maxLineBytes
            configuration.output.batchLines = output.integer("batchLines", in: 1...100_000) ?? configuration.output.batchLines
            configuration.output.batchInterval = output.duration("batchInterval", in: TimeSpan(milliseconds: 1)...(.seconds(10))) ?? configuration.output.batchInterval
            output.finish(validKeys: ["maxLineBytes", "batchLines", "batchInterval"])
        }

        if let checkpoints = root.object("checkpoints") {
            configuration.checkpoints.maxFileBytes = checkpoints.size("maxFileBytes", in: .kibibytes(1)...(.gibibytes(16))) ?? configuration.checkpoints.maxFileBytes
            configuration.checkpoints.maxJobBytes = checkpoints.size("maxJobBytes", in: .kibibytes(1)...(.gibibytes(16 * 1024))) ?? configuration.checkpoints.maxJobBytes
            if !checkpoints.hasProblem("maxFileBytes"), !checkpoints.hasProblem("maxJobBytes"),
                configuration.checkpoints.maxJobBytes < configuration.checkpoints.maxFileBytes
            {
                checkpoints.report("maxJobBytes", "\(configuration.checkpoints.maxJobBytes) is smaller than maxFileBytes \(configuration.checkpoints.maxFileBytes)")
            }
            checkpoints.finish(validKeys: ["maxFileBytes", "maxJobBytes"])
        }

        if let metrics = root.object("metrics") {
            configuration.metrics.path = absolutePath(metrics, "path")
            configuration.metrics.interval = metrics.duration("interval", in: .seconds(1)...(.hours(1))) ?? configuration.metrics.interval
            metrics.finish(validKeys: ["path", "interval"])
        }

        configuration.logLevel = root.choice("logLevel", LogLevel.self) ?? configuration.logLevel

        root.finish(validKeys: [
            "database", "directories", "workerID", "engine", "concurrency", "defaultQueue", "queues", "leaseDuration",
            "heartbeatInterval", "pollInterval", "workspaceRetention", "shutdown", "secretsDirectory", "output", "checkpoints", "metrics", "logLevel",
        ])
        return configuration
    }

    /// The rule for worker ids, in words for error messages.
    public static let workerIDRule = "1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"

    private static let workerIDPattern = NamePattern(#"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"#)!
    private static let queueName = NamePattern(#"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"#)!
    private static let networkName = NamePattern(#"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"#)!
    /// One part of `USER`, `UID` or `UID:GID`.
    private static let userPart = NamePattern(#"^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$"#)!

    /// Returns whether `id` is a valid worker id. The id becomes part of a
    /// socket file's name and a container label's value.
    public static func isValidWorkerID(_ id: String) -> Bool {
        workerIDPattern.matches(id)
    }

    private static func readQueue(_ object: ConfigurationObject, base: Queue, allowZeroConcurrency: Bool) -> Queue {
        var queue = base
        queue.concurrency = object.integer("concurrency", in: (allowZeroConcurrency ? 0 : 1)...1024) ?? queue.concurrency
        if let network = object.string("network") {
            if Self.networkName.matches(network) {
                queue.network = network
            } else {
                object.report("network", "\"\(network)\" is not a network name; use none or the name of an engine network")
            }
        }
        if let user = object.string("user") {
            let parts = user.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count <= 2, parts.allSatisfy({ userPart.matches(String($0)) }) {
                queue.user = user
            } else {
                object.report("user", "\"\(user)\" is not valid; expected USER, UID or UID:GID such as 65534:65534")
            }
        }
        queue.memory = object.size("memory", in: JobSpec.Bounds.memory) ?? queue.memory
        queue.cpus = object.number("cpus", in: JobSpec.Bounds.cpus) ?? queue.cpus
        queue.pids = object.integer("pids", in: JobSpec.Bounds.pids) ?? queue.pids
        queue.timeout = object.duration("timeout", in: JobSpec.Bounds.timeout) ?? queue.timeout
        queue.workspaceDisk = object.size("workspaceDisk", in: JobSpec.Bounds.workspaceDisk) ?? queue.workspaceDisk
        queue.maxOutputBytes = object.size("maxOutputBytes", in: JobSpec.Bounds.maxOutputBytes) ?? queue.maxOutputBytes
        queue.tmpfsSize = object.size("tmpfsSize", in: .mebibytes(1)...(.gibibytes(64))) ?? queue.tmpfsSize
        queue.nofile = object.integer("nofile", in: 16...1_048_576) ?? queue.nofile
        queue.readOnlyRoot = object.bool("readOnlyRoot") ?? queue.readOnlyRoot
        queue.stopGrace = object.duration("stopGrace", in: .zero...(.minutes(30))) ?? queue.stopGrace

        if let retry = object.object("retry") {
            queue.retry.maxAttempts = retry.integer("maxAttempts", in: JobSpec.Bounds.maxAttempts) ?? queue.retry.maxAttempts
            queue.retry.initialDelay = retry.duration("initialDelay", in: JobSpec.Bounds.retryDelay) ?? queue.retry.initialDelay
            queue.retry.maxDelay = retry.duration("maxDelay", in: JobSpec.Bounds.retryDelay) ?? queue.retry.maxDelay
            queue.retry.multiplier = retry.number("multiplier", in: JobSpec.Bounds.multiplier) ?? queue.retry.multiplier
            queue.retry.jitter = retry.number("jitter", in: JobSpec.Bounds.jitter) ?? queue.retry.jitter
            if !retry.hasProblem("initialDelay"), !retry.hasProblem("maxDelay"), queue.retry.maxDelay < queue.retry.initialDelay {
                retry.report("maxDelay", "\(queue.retry.maxDelay) is shorter than initialDelay \(queue.retry.initialDelay)")
            }
            retry.finish(validKeys: ["maxAttempts", "initialDelay", "maxDelay", "multiplier", "jitter"])
        }

        object.finish(validKeys: [
            "concurrency", "network", "user", "memory", "cpus", "pids", "timeout", "workspaceDisk", "maxOutputBytes",
            "tmpfsSize", "nofile", "readOnlyRoot", "stopGrace", "retry",
        ])
        return queue
    }

    private static func absolutePath(_ object: ConfigurationObject, _ key: String) -> String? {
        guard let path = object.string(key) else { return nil }
        guard path.hasPrefix("/"), !path.contains("\0") else {
            object.report(key, "\"\(path)\" is not an absolute path; expected a path starting with /")
            return nil
        }
        return path
    }
}

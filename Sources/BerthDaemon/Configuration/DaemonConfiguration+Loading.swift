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
            throw ConfigurationError(file: path, keyPath: "", problem: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(data, file: path)
    }

    /// Validates the JSON5 text `data`; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws(ConfigurationError) -> DaemonConfiguration {
        let root: JSONValue
        do {
            root = try JSONValue.parseJSON5(data)
        } catch {
            let located = JSON5SyntaxLocator.firstProblem(in: Array(data)).map(\.description)
            throw ConfigurationError(file: file, keyPath: "", problem: "not valid JSON5: \(located ?? Self.syntaxProblem(error))")
        }
        guard case .object(let dictionary) = root else {
            throw ConfigurationError(file: file, keyPath: "", problem: "expected an object at the top level, found \(root.summary)")
        }
        do {
            return try read(ConfigurationObject(dictionary, path: "", file: file))
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(file: file, keyPath: "", problem: "\(error)")
        }
    }

    private static func syntaxProblem(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let cause = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return cause ?? context.debugDescription
        }
        return "\(error)"
    }

    private static func read(_ root: ConfigurationObject) throws -> DaemonConfiguration {
        var configuration = DaemonConfiguration()

        if let database = try root.object("database") {
            configuration.database.path = try absolutePath(database, "path") ?? configuration.database.path
            configuration.database.synchronous = try database.choice("synchronous", DatabaseOptions.Synchronous.self) ?? .normal
            configuration.database.busyTimeout = try database.duration("busyTimeout", in: .seconds(1)...(.minutes(10))) ?? configuration.database.busyTimeout
            if let group = try database.string("adminGroup") {
                guard getgrnam(group) != nil else {
                    throw database.error("adminGroup", "group \"\(group)\" not found; create it (groupadd \(group)) or remove the key")
                }
                configuration.database.adminGroup = group
            }
            try database.finish(validKeys: ["path", "synchronous", "busyTimeout", "adminGroup"])
        }

        if let directories = try root.object("directories") {
            configuration.directories.workspaces = try absolutePath(directories, "workspaces") ?? configuration.directories.workspaces
            configuration.directories.checkpoints = try absolutePath(directories, "checkpoints") ?? configuration.directories.checkpoints
            configuration.directories.runtime = try absolutePath(directories, "runtime") ?? configuration.directories.runtime
            configuration.directories.containerLogs = try absolutePath(directories, "containerLogs")
            try directories.finish(validKeys: ["workspaces", "checkpoints", "runtime", "containerLogs"])
        }

        if let workerID = try root.string("workerID") {
            guard isValidWorkerID(workerID) else {
                throw root.error("workerID", "\"\(workerID)\" is not valid; expected \(workerIDRule)")
            }
            configuration.workerID = workerID
        }

        if let engine = try root.object("engine") {
            configuration.engine.kind = try engine.choice("kind", EngineKind.self) ?? .auto
            configuration.engine.path = try absolutePath(engine, "path")
            configuration.engine.callTimeout = try engine.duration("callTimeout", in: .seconds(1)...(.minutes(30))) ?? configuration.engine.callTimeout
            configuration.engine.extraRunFlags = try engine.strings("extraRunFlags") ?? []
            for (index, flag) in configuration.engine.extraRunFlags.enumerated() where !flag.hasPrefix("--") {
                throw engine.error("extraRunFlags[\(index)]", "\"\(flag)\" is not a long flag; write each flag as --name=value in one string")
            }
            configuration.engine.passEnvironment = try engine.strings("passEnvironment") ?? configuration.engine.passEnvironment
            configuration.engine.pullPolicy = try engine.choice("pullPolicy", PullPolicy.self) ?? configuration.engine.pullPolicy
            try engine.finish(validKeys: ["kind", "path", "callTimeout", "extraRunFlags", "passEnvironment", "pullPolicy"])
        }

        configuration.concurrency = try root.integer("concurrency", in: 1...1024) ?? configuration.concurrency

        if let defaultQueue = try root.object("defaultQueue") {
            configuration.defaultQueue = try readQueue(defaultQueue, base: DaemonConfiguration.Queue(), allowZeroConcurrency: true)
        }
        if let queues = try root.object("queues") {
            for name in queues.remainingKeys {
                guard Self.queueName.matches(name) else {
                    throw queues.error(name, "is not a valid queue name; expected 1 to 64 letters, digits, '.', '_' or '-'")
                }
                guard let queue = try queues.object(name) else { continue }
                configuration.queues[name] = try readQueue(queue, base: configuration.defaultQueue, allowZeroConcurrency: false)
            }
        }

        configuration.leaseDuration = try root.duration("leaseDuration", in: .seconds(5)...(.hours(1))) ?? configuration.leaseDuration
        configuration.heartbeatInterval = try root.duration("heartbeatInterval", in: TimeSpan(milliseconds: 100)...(.minutes(20))) ?? configuration.heartbeatInterval
        guard configuration.heartbeatInterval.milliseconds * 2 <= configuration.leaseDuration.milliseconds else {
            throw root.error("heartbeatInterval", "\(configuration.heartbeatInterval) must be at most half of leaseDuration (\(configuration.leaseDuration)), so a lease is renewed well before it expires")
        }
        configuration.pollInterval = try root.duration("pollInterval", in: TimeSpan(milliseconds: 50)...(.minutes(10))) ?? configuration.pollInterval
        configuration.workspaceRetention = try root.duration("workspaceRetention", in: .seconds(0)...(.days(3650))) ?? configuration.workspaceRetention

        if let shutdown = try root.object("shutdown") {
            configuration.shutdown.mode = try shutdown.choice("mode", ShutdownMode.self) ?? .drain
            configuration.shutdown.deadline = try shutdown.duration("deadline", in: .seconds(1)...(.hours(6))) ?? configuration.shutdown.deadline
            try shutdown.finish(validKeys: ["mode", "deadline"])
        }

        configuration.secretsDirectory = try absolutePath(root, "secretsDirectory") ?? configuration.secretsDirectory

        if let output = try root.object("output") {
            configuration.output.maxLineBytes = try output.size("maxLineBytes", in: .kibibytes(1)...(.mebibytes(256))) ?? configuration.output.maxLineBytes
            configuration.output.batchLines = try output.integer("batchLines", in: 1...100_000) ?? configuration.output.batchLines
            configuration.output.batchInterval = try output.duration("batchInterval", in: TimeSpan(milliseconds: 1)...(.seconds(10))) ?? configuration.output.batchInterval
            try output.finish(validKeys: ["maxLineBytes", "batchLines", "batchInterval"])
        }

        if let checkpoints = try root.object("checkpoints") {
            configuration.checkpoints.maxFileBytes = try checkpoints.size("maxFileBytes", in: .kibibytes(1)...(.gibibytes(16))) ?? configuration.checkpoints.maxFileBytes
            configuration.checkpoints.maxJobBytes = try checkpoints.size("maxJobBytes", in: .kibibytes(1)...(.gibibytes(16 * 1024))) ?? configuration.checkpoints.maxJobBytes
            guard configuration.checkpoints.maxJobBytes >= configuration.checkpoints.maxFileBytes else {
                throw checkpoints.error("maxJobBytes", "\(configuration.checkpoints.maxJobBytes) is smaller than maxFileBytes \(configuration.checkpoints.maxFileBytes)")
            }
            try checkpoints.finish(validKeys: ["maxFileBytes", "maxJobBytes"])
        }

        if let metrics = try root.object("metrics") {
            configuration.metrics.path = try absolutePath(metrics, "path")
            configuration.metrics.interval = try metrics.duration("interval", in: .seconds(1)...(.hours(1))) ?? configuration.metrics.interval
            try metrics.finish(validKeys: ["path", "interval"])
        }

        configuration.logLevel = try root.choice("logLevel", LogLevel.self) ?? configuration.logLevel

        try root.finish(validKeys: [
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

    private static func readQueue(_ object: ConfigurationObject, base: Queue, allowZeroConcurrency: Bool) throws -> Queue {
        var queue = base
        queue.concurrency = try object.integer("concurrency", in: (allowZeroConcurrency ? 0 : 1)...1024) ?? queue.concurrency
        if let network = try object.string("network") {
            guard Self.networkName.matches(network) else {
                throw object.error("network", "\"\(network)\" is not a network name; use none or the name of an engine network")
            }
            queue.network = network
        }
        if let user = try object.string("user") {
            let parts = user.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count <= 2, parts.allSatisfy({ userPart.matches(String($0)) }) else {
                throw object.error("user", "\"\(user)\" is not valid; expected USER, UID or UID:GID such as 65534:65534")
            }
            queue.user = user
        }
        queue.memory = try object.size("memory", in: JobSpec.Bounds.memory) ?? queue.memory
        queue.cpus = try object.number("cpus", in: JobSpec.Bounds.cpus) ?? queue.cpus
        queue.pids = try object.integer("pids", in: JobSpec.Bounds.pids) ?? queue.pids
        queue.timeout = try object.duration("timeout", in: JobSpec.Bounds.timeout) ?? queue.timeout
        queue.workspaceDisk = try object.size("workspaceDisk", in: JobSpec.Bounds.workspaceDisk) ?? queue.workspaceDisk
        queue.maxOutputBytes = try object.size("maxOutputBytes", in: JobSpec.Bounds.maxOutputBytes) ?? queue.maxOutputBytes
        queue.tmpfsSize = try object.size("tmpfsSize", in: .mebibytes(1)...(.gibibytes(64))) ?? queue.tmpfsSize
        queue.nofile = try object.integer("nofile", in: 16...1_048_576) ?? queue.nofile
        queue.readOnlyRoot = try object.bool("readOnlyRoot") ?? queue.readOnlyRoot
        queue.stopGrace = try object.duration("stopGrace", in: .zero...(.minutes(30))) ?? queue.stopGrace

        if let retry = try object.object("retry") {
            queue.retry.maxAttempts = try retry.integer("maxAttempts", in: JobSpec.Bounds.maxAttempts) ?? queue.retry.maxAttempts
            queue.retry.initialDelay = try retry.duration("initialDelay", in: JobSpec.Bounds.retryDelay) ?? queue.retry.initialDelay
            queue.retry.maxDelay = try retry.duration("maxDelay", in: JobSpec.Bounds.retryDelay) ?? queue.retry.maxDelay
            queue.retry.multiplier = try retry.number("multiplier", in: JobSpec.Bounds.multiplier) ?? queue.retry.multiplier
            queue.retry.jitter = try retry.number("jitter", in: JobSpec.Bounds.jitter) ?? queue.retry.jitter
            guard queue.retry.maxDelay >= queue.retry.initialDelay else {
                throw retry.error("maxDelay", "\(queue.retry.maxDelay) is shorter than initialDelay \(queue.retry.initialDelay)")
            }
            try retry.finish(validKeys: ["maxAttempts", "initialDelay", "maxDelay", "multiplier", "jitter"])
        }

        try object.finish(validKeys: [
            "concurrency", "network", "user", "memory", "cpus", "pids", "timeout", "workspaceDisk", "maxOutputBytes",
            "tmpfsSize", "nofile", "readOnlyRoot", "stopGrace", "retry",
        ])
        return queue
    }

    private static func absolutePath(_ object: ConfigurationObject, _ key: String) throws -> String? {
        guard let path = try object.string(key) else { return nil }
        guard path.hasPrefix("/"), !path.contains("\0") else {
            throw object.error(key, "\"\(path)\" is not an absolute path; expected a path starting with /")
        }
        return path
    }
}

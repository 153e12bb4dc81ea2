import BerthCore
import BerthStore
import Foundation

/// Everything the daemon reads from its configuration file, with defaults for
/// every key. `config/berth.json5` documents each key, its unit and its default.
public struct DaemonConfiguration: Sendable, Equatable {
    public var database = Database()
    public var directories = Directories()
    /// Identity of this daemon in leases and container labels; defaults to the host name.
    public var workerID: String? = nil
    public var engine = Engine()
    /// Maximum number of jobs running at once on this host.
    public var concurrency = 4
    /// Settings per queue; a job of a queue not listed here uses `defaultQueue`.
    public var queues: [String: Queue] = [:]
    /// Settings for queues that are not listed in `queues`. Set its
    /// concurrency to 0 to run listed queues only.
    public var defaultQueue = Queue()
    public var leaseDuration = TimeSpan.seconds(60)
    public var heartbeatInterval = TimeSpan.seconds(10)
    /// How often the daemon looks for work when nothing wakes it.
    public var pollInterval = TimeSpan.seconds(2)
    /// How long a finished job's workspace stays on the host; a retry or
    /// resume after that rebuilds it from the stored checkpoints.
    public var workspaceRetention = TimeSpan.hours(24)
    public var shutdown = Shutdown()
    public var secretsDirectory = "/etc/berth/secrets"
    public var output = Output()
    public var checkpoints = Checkpoints()
    public var metrics = Metrics()
    public var logLevel = LogLevel.info

    public init() {}

    public struct Database: Sendable, Equatable {
        public var path: String? = nil
        public var synchronous = DatabaseOptions.Synchronous.normal
        public var busyTimeout = TimeSpan.seconds(30)
        /// Group whose members may read a database this daemon creates (mode 0640 instead of 0600).
        public var adminGroup: String? = nil
    }

    public struct Directories: Sendable, Equatable {
        /// One directory per job, mounted at /workspace in its container.
        public var workspaces = Self.stateDirectory + "/workspaces"
        /// Copies of checkpoint files, out of the jobs' reach.
        public var checkpoints = Self.stateDirectory + "/checkpoints"
        /// Sockets and other files that do not survive a reboot.
        public var runtime = Self.runtimeDirectory
        /// One directory per podman container with its output log, on disk
        /// because a job may print gigabytes; nil means `containers` beside `workspaces`.
        public var containerLogs: String? = nil

        /// `containerLogs`, or its default beside the workspaces.
        public var resolvedContainerLogs: String {
            containerLogs ?? (workspaces as NSString).deletingLastPathComponent + "/containers"
        }

        /// `/var/lib/berth` for root, beside the default database otherwise.
        static var stateDirectory: String {
            (DatabaseOptions.defaultPath() as NSString).deletingLastPathComponent
        }

        /// `/run/berth` for root, `$XDG_RUNTIME_DIR/berth` otherwise when set.
        static var runtimeDirectory: String {
            if getuid() == 0 { return "/run/berth" }
            if let runtime = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
                return runtime + "/berth"
            }
            return stateDirectory + "/run"
        }
    }

    public enum EngineKind: String, Sendable, Equatable, CaseIterable {
        case auto, podman, docker
    }

    public enum PullPolicy: String, Sendable, Equatable, CaseIterable {
        case never, missing, always
    }

    public struct Engine: Sendable, Equatable {
        public var kind = EngineKind.auto
        /// Path of the engine binary; found in PATH when nil.
        public var path: String? = nil
        /// Time limit for one engine command other than following output.
        public var callTimeout = TimeSpan.seconds(60)
        /// Flags added to every `create`, after berth's own flags.
        public var extraRunFlags: [String] = []
        /// When the engine pulls a job's image: never, missing (when not present) or always.
        public var pullPolicy = PullPolicy.missing
        /// Variables passed from the daemon's environment to engine commands,
        /// such as CONTAINERS_CONF or DOCKER_HOST.
        public var passEnvironment: [String] = ["CONTAINERS_CONF", "CONTAINER_HOST", "DOCKER_HOST", "XDG_RUNTIME_DIR", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE"]
    }

    /// Default isolation and limits of a queue's containers. A job's own
    /// limits override the limits here.
    public struct Queue: Sendable, Equatable {
        public var concurrency = 4
        public var network = "none"
        public var user = "65534:65534"
        public var memory = ByteSize.gibibytes(1)
        public var cpus = 1.0
        public var pids = 256
        public var timeout = TimeSpan.hours(1)
        public var workspaceDisk = ByteSize.gibibytes(5)
        public var maxOutputBytes = ByteSize.mebibytes(256)
        public var tmpfsSize = ByteSize.mebibytes(64)
        public var nofile = 1024
        public var readOnlyRoot = true
        /// How long a container has after SIGTERM before it is killed.
        public var stopGrace = TimeSpan.seconds(10)
        public var retry = RetrySettings()
    }

    /// A queue's retry policy; jobs override single fields.
    public struct RetrySettings: Sendable, Equatable {
        public var maxAttempts = RetryPolicy.standard.maxAttempts
        public var initialDelay = RetryPolicy.standard.initialDelay
        public var maxDelay = RetryPolicy.standard.maxDelay
        public var multiplier = RetryPolicy.standard.multiplier
        public var jitter = RetryPolicy.standard.jitter

        public var policy: RetryPolicy {
            var policy = RetryPolicy.standard
            policy.maxAttempts = maxAttempts
            policy.initialDelay = initialDelay
            policy.maxDelay = maxDelay
            policy.multiplier = multiplier
            policy.jitter = jitter
            return policy
        }
    }

    public enum ShutdownMode: String, Sendable, Equatable, CaseIterable {
        /// Stop running containers and put their jobs back in the queue.
        case drain
        /// Leave containers running for the next daemon to adopt.
        case detach
    }

    public struct Shutdown: Sendable, Equatable {
        public var mode = ShutdownMode.drain
        /// Time allowed for the whole shutdown before the daemon exits anyway.
        public var deadline = TimeSpan.minutes(2)
    }

    public struct Output: Sendable, Equatable {
        /// Longest line stored whole; longer lines are cut and marked truncated.
        public var maxLineBytes = ByteSize.mebibytes(8)
        /// Lines that make a batch full. Lines that arrive while a batch is
        /// written gather, up to `OutputRecorder.gatheredBatches` full batches,
        /// and go into the next transaction together.
        public var batchLines = 500
        /// Longest time a line waits before it is written.
        public var batchInterval = TimeSpan(milliseconds: 50)
    }

    /// Limits on the checkpoint files the daemon copies out of workspaces.
    public struct Checkpoints: Sendable, Equatable {
        /// Largest checkpoint file captured; a larger one is refused.
        public var maxFileBytes = ByteSize.mebibytes(64)
        /// Largest total of one job's stored checkpoints; files past it are refused.
        public var maxJobBytes = ByteSize.gibibytes(1)
    }

    /// The Prometheus text file the daemon writes for node_exporter's textfile collector.
    public struct Metrics: Sendable, Equatable {
        /// The file's path; no file is written when nil.
        public var path: String? = nil
        /// Time between two writes of the file.
        public var interval = TimeSpan.seconds(15)
    }

    public enum LogLevel: String, Sendable, Equatable, CaseIterable, Comparable {
        case debug, info, warning, error

        public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// Settings of `queue`.
    public func settings(forQueue queue: String) -> Queue {
        queues[queue] ?? defaultQueue
    }

    /// The database options for this configuration.
    public var databaseOptions: DatabaseOptions {
        DatabaseOptions(
            path: database.path ?? DatabaseOptions.defaultPath(),
            synchronous: database.synchronous, busyTimeout: database.busyTimeout,
            adminGroup: database.adminGroup.flatMap { name in getgrnam(name).map { $0.pointee.gr_gid } })
    }

    /// The worker id: the configured one, or the host name.
    public var resolvedWorkerID: String {
        workerID ?? ProcessInfo.processInfo.hostName
    }
}

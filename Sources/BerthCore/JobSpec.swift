import Foundation

/// What to run: the JSON object that `berth submit` accepts on the command line
/// and in batch files, and that `berth show --json` prints.
///
/// Fields left out take their defaults from the daemon's configuration, so
/// most submissions name only an image and a command.
public struct JobSpec: Hashable, Sendable {
    public var image: String
    /// The container's argv. Never run through a shell.
    public var command: [String]
    public var env: [String: String]
    /// Names of secrets the daemon resolves when the container starts; the
    /// values are never stored.
    public var secrets: [String]
    public var queue: String
    /// Higher runs first.
    public var priority: Int
    public var limits: Limits
    public var retry: RetryOverrides
    public var idempotencyKey: String?
    /// Earliest start, in Unix milliseconds (UTC).
    public var runAt: Int64?
    public var labels: [String: String]
    public var adapter: Adapter
    /// Submit in the `held` state, to run only after `berth approve`.
    public var hold: Bool

    public static let defaultQueue = "default"

    public init(
        image: String,
        command: [String],
        env: [String: String] = [:],
        secrets: [String] = [],
        queue: String = JobSpec.defaultQueue,
        priority: Int = 0,
        limits: Limits = Limits(),
        retry: RetryOverrides = RetryOverrides(),
        idempotencyKey: String? = nil,
        runAt: Int64? = nil,
        labels: [String: String] = [:],
        adapter: Adapter = .generic,
        hold: Bool = false
    ) {
        self.image = image
        self.command = command
        self.env = env
        self.secrets = secrets
        self.queue = queue
        self.priority = priority
        self.limits = limits
        self.retry = retry
        self.idempotencyKey = idempotencyKey
        self.runAt = runAt
        self.labels = labels
        self.adapter = adapter
        self.hold = hold
    }

    /// Resource limits; nil means the queue's default.
    public struct Limits: Hashable, Sendable {
        public var memory: ByteSize?
        public var cpus: Double?
        public var pids: Int?
        /// Wall-clock time for one attempt.
        public var timeout: TimeSpan?
        public var workspaceDisk: ByteSize?
        /// Output stored per attempt; lines beyond it are counted, not stored.
        public var maxOutputBytes: ByteSize?

        public init(
            memory: ByteSize? = nil, cpus: Double? = nil, pids: Int? = nil, timeout: TimeSpan? = nil,
            workspaceDisk: ByteSize? = nil, maxOutputBytes: ByteSize? = nil
        ) {
            self.memory = memory
            self.cpus = cpus
            self.pids = pids
            self.timeout = timeout
            self.workspaceDisk = workspaceDisk
            self.maxOutputBytes = maxOutputBytes
        }
    }

    /// Changes to the queue's retry policy; nil fields keep the queue's value.
    public struct RetryOverrides: Hashable, Sendable {
        public var maxAttempts: Int?
        public var initialDelay: TimeSpan?
        public var maxDelay: TimeSpan?
        public var multiplier: Double?
        public var jitter: Double?
        public var retryOn: [AttemptOutcome]?
        public var neverRetryExitCodes: [Int32]?

        public init(
            maxAttempts: Int? = nil, initialDelay: TimeSpan? = nil, maxDelay: TimeSpan? = nil,
            multiplier: Double? = nil, jitter: Double? = nil, retryOn: [AttemptOutcome]? = nil,
            neverRetryExitCodes: [Int32]? = nil
        ) {
            self.maxAttempts = maxAttempts
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
            self.multiplier = multiplier
            self.jitter = jitter
            self.retryOn = retryOn
            self.neverRetryExitCodes = neverRetryExitCodes
        }

        /// The effective policy: these overrides laid over `base`.
        public func applied(to base: RetryPolicy) -> RetryPolicy {
            var policy = base
            if let maxAttempts { policy.maxAttempts = maxAttempts }
            if let initialDelay { policy.initialDelay = initialDelay }
            if let maxDelay { policy.maxDelay = maxDelay }
            if let multiplier { policy.multiplier = multiplier }
            if let jitter { policy.jitter = jitter }
            if let retryOn { policy.retryOn = Set(retryOn) }
            if let neverRetryExitCodes { policy.neverRetryExitCodes = Set(neverRetryExitCodes) }
            return policy
        }
    }

    /// How the daemon talks to the program in the container.
    public enum Adapter: Hashable, Sendable {
        /// Any image that prints JSON lines; checkpoints go to `$BERTH_CHECKPOINT_DIR`.
        case generic
        /// The Perstack runtime.
        case perstack(PerstackOptions)
    }

    /// The Perstack run: expert, query and the runtime options berth passes on.
    public struct PerstackOptions: Hashable, Sendable {
        public var expert: String
        public var query: String
        /// Path of `perstack.toml` inside the image.
        public var config: String
        public var provider: String?
        public var model: String?
        public var maxSteps: Int?
        public var maxRetries: Int?
        /// Timeout of one model call, passed as `--timeout`.
        public var modelTimeout: TimeSpan?

        public static let defaultConfig = "/app/perstack.toml"

        public init(
            expert: String, query: String, config: String = PerstackOptions.defaultConfig,
            provider: String? = nil, model: String? = nil, maxSteps: Int? = nil,
            maxRetries: Int? = nil, modelTimeout: TimeSpan? = nil
        ) {
            self.expert = expert
            self.query = query
            self.config = config
            self.provider = provider
            self.model = model
            self.maxSteps = maxSteps
            self.maxRetries = maxRetries
            self.modelTimeout = modelTimeout
        }
    }
}

import BerthCore

/// The right of one worker to run one attempt of a job. Every write a worker
/// makes about the attempt is fenced by all three fields.
public struct Lease: Hashable, Sendable, CustomStringConvertible {
    public let jobID: Int64
    public let attempt: Int
    public let owner: String

    public init(jobID: Int64, attempt: Int, owner: String) {
        self.jobID = jobID
        self.attempt = attempt
        self.owner = owner
    }

    public var description: String { "job \(jobID) attempt \(attempt) (worker \(owner))" }
}

/// A job as stored, with its spec and its scheduling state.
public struct JobRecord: Sendable, Equatable {
    public var id: Int64
    public var queue: String
    public var state: JobState
    public var priority: Int
    /// Earliest next start, in Unix milliseconds.
    public var runAt: Int64
    public var spec: JobSpec
    public var idempotencyKey: String?
    /// Attempts claimed so far; the current attempt while running.
    public var attempt: Int
    /// Attempts counted against the retry policy.
    public var attemptsUsed: Int
    public var leaseOwner: String?
    public var leaseExpiresAt: Int64?
    public var cancelRequested: Bool
    public var resumeFrom: Int64?
    public var pendingInput: String?
    public var inputAnswer: String?
    public var lastError: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var finishedAt: Int64?
}

/// One attempt of a job, as stored.
public struct AttemptRecord: Sendable, Equatable {
    public var jobID: Int64
    public var attempt: Int
    public var workerID: String
    public var containerName: String?
    public var containerID: String?
    public var claimedAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    public var exitCode: Int32?
    public var outcome: AttemptOutcome?
    public var stopIntent: String?
    public var message: String?
    public var runSettings: String?
    public var resumedFrom: Int64?
    public var storedBytes: Int64
    public var droppedLines: Int64
}

/// The selection of a worker's next job: the queues it claims from and the
/// lease it takes.
public struct ClaimRequest: Sendable, Equatable {
    /// The one queue to claim from, or nil for any queue except `excludingQueues`.
    public var queue: String?
    /// Queues left out when `queue` is nil. Ignored when `queue` is set.
    public var excludingQueues: [String]
    /// The worker id that becomes the lease owner.
    public var worker: String
    public var leaseDuration: TimeSpan

    public init(queue: String? = nil, excludingQueues: [String] = [], worker: String, leaseDuration: TimeSpan) {
        self.queue = queue
        self.excludingQueues = excludingQueues
        self.worker = worker
        self.leaseDuration = leaseDuration
    }
}

/// A job a worker has just claimed.
public struct ClaimedJob: Sendable {
    public var lease: Lease
    public var queue: String
    public var spec: JobSpec
    /// Attempts counted against the retry policy before this one.
    public var attemptsUsed: Int
    public var leaseExpiresAt: Int64
    public var resumeFrom: Int64?
    public var inputAnswer: String?
}

/// Counts for `berth stats`.
public struct QueueStats: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var queue: String
        public var counts: [JobState: Int]
        /// Time the oldest ready job has waited to be claimed, in milliseconds.
        public var oldestReadyAge: Int64?
    }

    public var queues: [Row]
}

/// Which jobs `berth ls` lists.
public struct JobFilter: Sendable {
    public var states: [JobState]
    public var queue: String?
    public var labels: [String: String]
    public var limit: Int

    public init(states: [JobState] = [], queue: String? = nil, labels: [String: String] = [:], limit: Int = 50) {
        self.states = states
        self.queue = queue
        self.labels = labels
        self.limit = limit
    }
}

/// The result of submitting one spec.
public struct SubmitResult: Sendable, Equatable {
    public var id: Int64
    /// False when the idempotency key already named a job, whose id is returned.
    public var created: Bool
}

/// What `berth cancel` did to one job.
public enum CancelResult: Sendable, Equatable {
    case cancelled
    /// The job is running; its worker stops the container at its next heartbeat.
    case requested
}

/// A registered worker daemon.
public struct WorkerRecord: Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int32
    public var version: String
    public var startedAt: Int64
    public var heartbeatAt: Int64
    public var stoppedAt: Int64?
    /// Datagram socket that wakes the worker's daemon when a job is submitted on its host.
    public var wakeSocket: String?

    public init(
        id: String, host: String, pid: Int32, version: String, startedAt: Int64, heartbeatAt: Int64,
        stoppedAt: Int64? = nil, wakeSocket: String? = nil
    ) {
        self.id = id
        self.host = host
        self.pid = pid
        self.version = version
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.stoppedAt = stoppedAt
        self.wakeSocket = wakeSocket
    }
}

/// How an attempt ended, as the worker records it.
public struct AttemptResult: Sendable {
    public var outcome: AttemptOutcome
    public var exitCode: Int32?
    public var message: String?

    public init(outcome: AttemptOutcome, exitCode: Int32? = nil, message: String? = nil) {
        self.outcome = outcome
        self.exitCode = exitCode
        self.message = message
    }
}

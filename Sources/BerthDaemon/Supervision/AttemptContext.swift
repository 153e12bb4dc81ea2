import BerthCore
import BerthEngine
import BerthStore

/// The daemon's services that every attempt runner uses.
struct AttemptContext: Sendable {
    let configuration: DaemonConfiguration
    let engine: ContainerEngine
    let database: DatabaseQueue
    let logger: Logger
    let workerID: String
    let host: String
    /// The database's random id, in container names and labels.
    let databaseID: String
    let secrets: SecretResolver
    let resumeHook: any ResumeHook
    /// Called when an engine call failed in a way that means the engine itself is down.
    let reportEngineFailure: @Sendable (ContainerEngineError) -> Void
    /// Counters for the metrics file; a fresh, unwritten set unless the daemon passes its own.
    var metrics = DaemonMetrics()
    /// The daemon's side of claiming the next job in the transaction that records a result.
    var claimHandOver = ClaimHandOver.none
}

/// The daemon's side of claiming its next job in the write transaction that
/// records an attempt's result, so that moving from one job to the next
/// costs one commit instead of two.
///
/// The runner requests the claim just before it records the result, and
/// hands the claimed job back right after. The daemon actor is asked at that
/// moment rather than giving the runner a snapshot when it starts. So the
/// request follows the daemon's state: the free capacity of each queue, a
/// drain or shutdown that began meanwhile, and the engine's health.
struct ClaimHandOver: Sendable {
    /// Returns the claim for the slot that the attempt of a lease frees when its
    /// runner ends, or nil when the daemon claims nothing for that slot.
    let request: @Sendable (Lease) async -> ClaimRequest?
    /// Passes the job claimed together with the result of a lease's attempt to
    /// the daemon, which starts it in that runner's slot.
    let accept: @Sendable (Lease, ClaimedJob) async -> Void

    /// A hand-over that never claims, for runners outside a daemon.
    static let none = ClaimHandOver(request: { _ in nil }, accept: { _, _ in })
}

/// Labels berth puts on every container it creates, so it can find its own
/// containers and never touch anyone else's.
enum ContainerLabels {
    static let job = "berth.job"
    static let attempt = "berth.attempt"
    static let worker = "berth.worker"
    static let host = "berth.host"
    static let queue = "berth.queue"
    /// The database the job belongs to, so daemons of other databases on the
    /// same host leave the container alone.
    static let database = "berth.database"

    /// The container name of an attempt; unique per database, job and attempt.
    static func containerName(databaseID: String, jobID: Int64, attempt: Int) -> String {
        containerNamePrefix(databaseID: databaseID) + "\(jobID)-\(attempt)"
    }

    /// Returns the start of every container name of the database `databaseID`.
    static func containerNamePrefix(databaseID: String) -> String {
        "berth-\(databaseID)-"
    }
}

extension ContainerEngineError {
    /// Whether the error means the engine itself is down or hanging, rather
    /// than that one container or image is wrong.
    var meansEngineUnhealthy: Bool {
        switch self {
        case .engineUnavailable, .timedOut:
            true
        case .failed, .noSuchContainer, .invalidValue, .unexpectedOutput:
            false
        }
    }
}

import BerthCore
import BerthEngine
import BerthStore
import Foundation

/// The worker daemon: claims jobs up to its concurrency limits, runs one
/// container per attempt, renews leases, rescues jobs of dead workers, and
/// shuts down by draining or detaching.
///
/// The actor owns the scheduling state. Each attempt is supervised by an
/// `AttemptRunner` in its own task, and every SQLite call runs on the
/// `DatabaseQueue`'s thread.
public actor Daemon {
    public static let version = "0.1.0"

    let configuration: DaemonConfiguration
    let engine: ContainerEngine
    let database: DatabaseQueue
    let logger: Logger
    let workerID: String
    let host: String
    /// The database's random id, which scopes container names and the orphan sweep.
    let databaseID: String
    let notifier: ServiceNotifier
    let metrics = DaemonMetrics()
    let environment: [String: String]
    let wake = WakeSignal()
    let errorLimiter = RepeatedErrorLimiter(interval: .seconds(60))
    var wakeSocket: WakeSocket?

    var runners: [Int64: AttemptRunner] = [:]
    /// Runners of finished attempts whose containers wait for removal; the
    /// daemon exits only when none is left and no removal runs.
    var finishedRunners: [AttemptRunner] = []
    var isRemovingContainers = false
    /// Claims that finishing runners make in the transaction of their result,
    /// by the lease of the runner whose slot the claimed job takes.
    var handOvers: [Lease: HandOver] = [:]
    /// Whether `claimWhileCapacity` runs, so that finishing runners get no
    /// claim request while its claims are in flight.
    var isClaiming = false
    var shutdown: ShutdownLifecycle
    var engineHealthy = true
    var nextHeartbeat = ContinuousClock.now
    var nextMetricsWrite = ContinuousClock.now
    var nextOrphanSweep = ContinuousClock.now
    var nextWorkspaceSweep = ContinuousClock.now
    /// Orphaned containers and when they were first seen, removed after a grace period.
    var orphansFirstSeen: [String: ContinuousClock.Instant] = [:]
    var queueRotation = 0
    /// Queues not listed in the configuration whose jobs were claimed, so
    /// that each is logged once.
    var unlistedQueuesSeen: Set<String> = []
    /// The status that `run()` returns: 0, or 1 after the database file was lost.
    var exitStatus: Int32 = 0

    /// Opens the database and finds the engine; throws when either is unusable.
    public init(configuration: DaemonConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment,
                logger: Logger) throws {
        self.configuration = configuration
        self.environment = environment
        self.logger = logger
        workerID = configuration.resolvedWorkerID
        host = ProcessInfo.processInfo.hostName
        notifier = ServiceNotifier(environment: environment)
        shutdown = ShutdownLifecycle(mode: configuration.shutdown.mode)

        for directory in [configuration.directories.workspaces, configuration.directories.checkpoints, configuration.directories.runtime] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        database = try DatabaseQueue(options: configuration.databaseOptions)
        databaseID = try database.runBlocking { try $0.databaseID() }

        let engineEnvironment = try EngineEnvironment.inheriting(configuration.engine.passEnvironment, from: environment)
        let selection: EngineSelection = switch configuration.engine.kind {
        case .auto: .automatic
        case .podman: .podman
        case .docker: .docker
        }
        engine = try ContainerEngine(configuration: ContainerEngineConfiguration(
            selection: selection, executable: configuration.engine.path, environment: engineEnvironment,
            commandTimeout: .milliseconds(configuration.engine.callTimeout.milliseconds)))
    }

    func makeAttemptContext() -> AttemptContext {
        AttemptContext(
            configuration: configuration, engine: engine, database: database, logger: logger, workerID: workerID,
            host: host, databaseID: databaseID, secrets: SecretResolver(directory: configuration.secretsDirectory, environment: environment),
            resumeHook: CheckpointResumeHook(database: database, configuration: configuration, logger: logger),
            reportEngineFailure: { [weak self] error in
                Task { await self?.engineFailed(error) }
            },
            metrics: metrics,
            claimHandOver: ClaimHandOver(
                request: { [weak self] lease in await self?.requestHandOver(for: lease) },
                accept: { [weak self] lease, job in await self?.acceptHandOver(job, from: lease) }))
    }

    // MARK: Main loop

    /// Runs until shutdown and returns the process exit status.
    public func run() async -> Int32 {
        do {
            try await register()
        } catch {
            logger.error("cannot register this worker in the database", [(.error, "\(error)")])
            return 1
        }
        await waitForEngine()
        if shutdown.isAcceptingWork {
            await reconcile()
            notifier.ready(status: statusLine())
            logger.info("daemon started", [
                (.workerID, workerID), (.version, Self.version), (.databasePath, configuration.databaseOptions.path),
                (.engine, "\(engine.kind.rawValue) \(engine.executablePath)"),
            ])
            warnAboutWatchdog()
        }

        while true {
            if case .exiting = shutdown.phase { break }
            if case .stopping = shutdown.phase, runners.isEmpty, finishedRunners.isEmpty, !isRemovingContainers { break }

            if ContinuousClock.now >= nextHeartbeat {
                await heartbeat()
                nextHeartbeat = ContinuousClock.now + .milliseconds(configuration.heartbeatInterval.milliseconds)
            }
            await stopCancelledJobs()
            await removeUnneededJobDirectories()
            if shutdown.isAcceptingWork {
                if !engineHealthy { await checkEngine() }
                if engineHealthy { await claimWhileCapacity() }
            } else {
                notifier.extendTimeout(by: .milliseconds(configuration.heartbeatInterval.milliseconds * 3))
            }
            if configuration.metrics.path != nil, ContinuousClock.now >= nextMetricsWrite {
                if let error = await writeMetrics(runningContainers: runners.count, engineHealthy: engineHealthy) {
                    reportError("metrics write", error)
                } else {
                    errorLimiter.reset("metrics write")
                }
                nextMetricsWrite = ContinuousClock.now + .milliseconds(configuration.metrics.interval.milliseconds)
            }
            notifier.watchdog()

            let untilHeartbeat = nextHeartbeat - ContinuousClock.now
            let poll = Duration.milliseconds(configuration.pollInterval.milliseconds)
            var timeout = min(poll, untilHeartbeat)
            if configuration.metrics.path != nil {
                timeout = min(timeout, nextMetricsWrite - ContinuousClock.now)
            }
            // The loop pings the watchdog on every pass, so it passes at least twice per interval.
            if let watchdog = notifier.watchdogInterval {
                timeout = min(timeout, watchdog / 2)
            }
            await wake.wait(timeout: max(.milliseconds(1), timeout))
        }

        await stop()
        return exitStatus
    }

    func register() async throws {
        try await rejectDuplicateWorkerID()
        let socketPath = configuration.directories.runtime + "/wake-\(workerID).sock"
        do {
            let socket = try WakeSocket(path: socketPath)
            socket.startReceiving { [wake] in wake.signal() }
            wakeSocket = socket
        } catch {
            logger.warning("submissions cannot wake this daemon; it polls instead", [(.error, "\(error)")])
        }
        let now = Clock.nowMilliseconds()
        let worker = WorkerRecord(
            id: workerID, host: host, pid: getpid(), version: Self.version, startedAt: now, heartbeatAt: now,
            wakeSocket: wakeSocket?.path)
        try await database.run { store in try store.registerWorker(worker) }
    }

    /// Throws when a live daemon on this host already runs under this worker
    /// id: the two would adopt, stop and finish each other's containers.
    private func rejectDuplicateWorkerID() async throws {
        let existing = try await database.run { [workerID] store in try store.workers().first { $0.id == workerID } }
        guard let existing, existing.stoppedAt == nil, existing.host == host, existing.pid != getpid(),
              Self.isAlive(existing.pid),
              Clock.nowMilliseconds() - existing.heartbeatAt < configuration.leaseDuration.milliseconds
        else { return }
        throw DuplicateWorkerError(workerID: workerID, pid: existing.pid)
    }

    /// Whether `pid` names a running process; a zombie, killed but not yet
    /// reaped by its parent, is not.
    private static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = stat.range(of: ") ", options: .backwards)
        else { return true }
        return stat[afterName.upperBound...].first != "Z"
    }

    func stop() async {
        wakeSocket?.close()
        do {
            try await database.run { [workerID] store in try store.recordWorkerStopped(id: workerID, now: Clock.nowMilliseconds()) }
        } catch {
            logger.warning("could not record this worker as stopped", [(.workerID, workerID), (.error, "\(error)")])
        }
        if let error = await writeMetrics(runningContainers: runners.count, engineHealthy: engineHealthy) {
            logger.warning("could not write the metrics file", [(.error, "\(error)")])
        }
        logger.info("daemon stopped", [(.workerID, workerID)])
    }

    /// Checks the engine until it answers, because reconciliation and
    /// readiness need it; a signal ends the wait.
    func waitForEngine() async {
        await checkEngine()
        while !engineHealthy, shutdown.isAcceptingWork {
            notifier.watchdog()
            await wake.wait(timeout: .seconds(2))
            await checkEngine()
        }
    }

    /// Warns when one hanging engine call can outlast the systemd watchdog,
    /// which would then restart a daemon whose only trouble is the engine.
    func warnAboutWatchdog() {
        guard let watchdog = notifier.watchdogInterval else { return }
        let callTimeout = Duration.milliseconds(configuration.engine.callTimeout.milliseconds)
        if callTimeout * 2 > watchdog {
            logger.warning("engine.callTimeout is longer than half of the systemd watchdog interval (WatchdogSec); raise WatchdogSec or lower callTimeout", [
                (.reason, "callTimeout \(configuration.engine.callTimeout), watchdog \(watchdog)"),
            ])
        }
    }

    func statusLine() -> String {
        var parts = ["\(runners.count) running"]
        parts.append(engineHealthy ? "engine healthy" : "engine unhealthy")
        if case .stopping(let mode) = shutdown.phase {
            parts.append(mode == .drain ? "draining" : "detaching")
        }
        return parts.joined(separator: ", ")
    }

    func statusChanged() {
        notifier.status(statusLine())
    }
}

/// Another daemon with the same worker id is alive on this host.
struct DuplicateWorkerError: Error, CustomStringConvertible {
    let workerID: String
    let pid: Int32

    var description: String {
        "another daemon (pid \(pid)) already runs on this host as worker \(workerID); stop it, or give this one another workerID in its configuration or with --worker-id"
    }
}

import BerthCore
import BerthEngine
import BerthStore
import Foundation

/// The worker daemon: claims jobs up to its concurrency limits, runs one
/// container per attempt, renews leases, rescues jobs of dead workers, and
/// shuts down by draining or detaching.
///
/// The actor owns the scheduling state; each attempt is supervised by an
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
    private let environment: [String: String]
    private let wake = WakeSignal()
    private let errorLimiter = RepeatedErrorLimiter(interval: .seconds(60))
    private var wakeSocket: WakeSocket?

    private var runners: [Int64: AttemptRunner] = [:]
    private var shutdown: ShutdownLifecycle
    private var engineHealthy = true
    private var nextHeartbeat = ContinuousClock.now
    private var nextMetricsWrite = ContinuousClock.now
    private var nextOrphanSweep = ContinuousClock.now
    /// Orphaned containers and when they were first seen, removed after a grace period.
    private var orphansFirstSeen: [String: ContinuousClock.Instant] = [:]
    private var queueRotation = 0

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
            metrics: metrics)
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
            if case .stopping = shutdown.phase, runners.isEmpty { break }

            if ContinuousClock.now >= nextHeartbeat {
                await heartbeat()
                nextHeartbeat = ContinuousClock.now + .milliseconds(configuration.heartbeatInterval.milliseconds)
            }
            await stopCancelledJobs()
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
        return 0
    }

    private func register() async throws {
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

    private func stop() async {
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
    private func waitForEngine() async {
        await checkEngine()
        while !engineHealthy, shutdown.isAcceptingWork {
            notifier.watchdog()
            await wake.wait(timeout: .seconds(2))
            await checkEngine()
        }
    }

    /// Warns when one hanging engine call can outlast the systemd watchdog,
    /// which would then restart a daemon whose only trouble is the engine.
    private func warnAboutWatchdog() {
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

    private func statusChanged() {
        notifier.status(statusLine())
    }

    // MARK: Claiming

    /// Claims jobs while the global and per-queue limits allow.
    private func claimWhileCapacity() async {
        var candidates = claimCandidates()
        while runners.count < configuration.concurrency, !candidates.isEmpty {
            queueRotation = (queueRotation + 1) % candidates.count
            let candidate = candidates[queueRotation]
            let claimed: ClaimedJob?
            do {
                claimed = try await database.run { [workerID, configuration, listed = Array(configuration.queues.keys)] store in
                    try store.claim(
                        queue: candidate, excludingQueues: candidate == nil ? listed : [], worker: workerID,
                        leaseDuration: configuration.leaseDuration, now: Clock.nowMilliseconds())
                }
            } catch {
                reportError("claim", error)
                return
            }
            guard let claimed else {
                candidates.remove(at: queueRotation)
                continue
            }
            errorLimiter.reset("claim")
            start(AttemptRunner(job: claimed, context: makeAttemptContext()), .fresh)
            candidates = claimCandidates()
        }
    }

    /// Queues with free capacity: listed queue names, and nil for every queue
    /// that is not listed, which shares `defaultQueue`'s limit.
    private func claimCandidates() -> [String?] {
        var running: [String: Int] = [:]
        var unlistedRunning = 0
        for runner in runners.values {
            if configuration.queues[runner.job.queue] != nil {
                running[runner.job.queue, default: 0] += 1
            } else {
                unlistedRunning += 1
            }
        }
        var candidates: [String?] = configuration.queues.keys.sorted()
            .filter { running[$0, default: 0] < configuration.queues[$0]!.concurrency }
        if unlistedRunning < configuration.defaultQueue.concurrency {
            candidates.append(nil)
        }
        return candidates
    }

    private func start(_ runner: AttemptRunner, _ start: AttemptRunner.Start) {
        metrics.recordClaim(queue: runner.job.queue)
        logger.info("claimed job", [(.jobID, "\(runner.lease.jobID)"), (.attempt, "\(runner.lease.attempt)"), (.queue, runner.job.queue)])
        adoptFinished(runner) { await runner.run(start) }
    }

    /// Tracks `runner` until `body` returns, so it counts against the limits.
    func adoptFinished(_ runner: AttemptRunner, _ body: @escaping @Sendable () async -> AttemptRunner.End) {
        runners[runner.lease.jobID] = runner
        statusChanged()
        Task {
            let end = await body()
            self.attemptEnded(runner, end: end)
        }
    }

    func runnerFor(jobID: Int64) -> AttemptRunner? {
        runners[jobID]
    }

    func orphanFirstSeen(_ containerID: String) -> ContinuousClock.Instant {
        if let seen = orphansFirstSeen[containerID] { return seen }
        let now = ContinuousClock.now
        orphansFirstSeen[containerID] = now
        return now
    }

    func forgetOrphans(except seen: Set<String>) {
        orphansFirstSeen = orphansFirstSeen.filter { seen.contains($0.key) }
    }

    private func attemptEnded(_ runner: AttemptRunner, end: AttemptRunner.End) {
        if runners[runner.lease.jobID] === runner {
            runners[runner.lease.jobID] = nil
        }
        statusChanged()
        wake.signal()
    }

    // MARK: Heartbeats and leases

    private func heartbeat() async {
        let leases = runners.values.map(\.lease)
        let leaseDuration = configuration.leaseDuration
        let results: [(Lease, Result<Bool, any Error>)]
        do {
            results = try await database.run { [workerID] store in
                let now = Clock.nowMilliseconds()
                try store.recordWorkerHeartbeat(id: workerID, now: now)
                return leases.map { lease in
                    (lease, Result { try store.renewLease(lease, leaseDuration: leaseDuration, now: now) })
                }
            }
        } catch {
            reportError("heartbeat", error)
            return
        }
        metrics.recordHeartbeat(now: Clock.nowMilliseconds())

        for (lease, result) in results {
            guard let runner = runners[lease.jobID], runner.lease == lease else { continue }
            switch result {
            case .success(true):
                logger.info("cancel requested; stopping the job", [(.jobID, "\(lease.jobID)"), (.attempt, "\(lease.attempt)")])
                runner.requestStop(.cancel)
            case .success(false):
                break
            case .failure(StoreError.leaseLost):
                logger.warning("lost the lease; stopping the container", [(.jobID, "\(lease.jobID)"), (.attempt, "\(lease.attempt)")])
                runner.requestStop(.leaseLost)
            case .failure(let error):
                reportError("lease renewal", error)
            }
        }

        await rescueExpiredLeases()
        if ContinuousClock.now >= nextOrphanSweep {
            await sweepOrphanedContainers()
            nextOrphanSweep = ContinuousClock.now + .seconds(60)
        }
    }

    /// Stops running jobs that an operator cancelled. `berth cancel` wakes
    /// daemons on its host, so they act at once; the heartbeat catches the rest.
    private func stopCancelledJobs() async {
        guard !runners.isEmpty else { return }
        let requests: [Lease]
        do {
            requests = try await database.run { [workerID] store in try store.cancelRequests(owner: workerID) }
        } catch {
            reportError("cancel check", error)
            return
        }
        for lease in requests {
            guard let runner = runners[lease.jobID], runner.lease == lease else { continue }
            runner.requestStop(.cancel)
        }
    }

    /// Finishes attempts whose worker stopped renewing its lease, as lost
    /// attempts under the job's retry policy.
    private func rescueExpiredLeases() async {
        let expired: [(lease: Lease, queue: String, spec: JobSpec, attemptsUsed: Int)]
        do {
            expired = try await database.run { store in try store.expiredLeases(now: Clock.nowMilliseconds()) }
        } catch {
            reportError("rescue", error)
            return
        }
        for job in expired where runners[job.lease.jobID] == nil {
            let settings = configuration.settings(forQueue: job.queue)
            let policy = job.spec.retry.applied(to: settings.retry.policy)
            let result = AttemptResult(outcome: .lost, message: "worker \(job.lease.owner) stopped renewing its lease")
            let decision = policy.decide(outcome: .lost, exitCode: nil, attemptsUsed: job.attemptsUsed + 1, unitRandom: Double.random(in: 0..<1))
            do {
                try await database.run { store in
                    try store.rescueExpiredLease(job.lease, result: result, decision: decision, now: Clock.nowMilliseconds())
                }
                metrics.recordFinishedAttempt(queue: job.queue, outcome: .lost, decision: decision)
                logger.warning("rescued job from a worker whose lease expired", [
                    (.jobID, "\(job.lease.jobID)"), (.attempt, "\(job.lease.attempt)"), (.workerID, job.lease.owner),
                ])
            } catch StoreError.leaseLost {
                continue
            } catch {
                reportError("rescue", error)
            }
        }
    }

    // MARK: Engine health

    private func engineFailed(_ error: ContainerEngineError) {
        metrics.recordEngineError()
        if engineHealthy {
            markEngineUnhealthy(error)
            statusChanged()
        }
    }

    /// Logs that the engine is unhealthy and starts the interval after which
    /// an engine that still fails is logged again.
    private func markEngineUnhealthy(_ error: any Error) {
        engineHealthy = false
        errorLimiter.reset("engine")
        _ = errorLimiter.shouldLog("engine")
        logger.error("container engine is unhealthy; claiming stops until it answers", [(.error, "\(error)")])
    }

    private func checkEngine() async {
        do {
            try await engine.ping()
            if !engineHealthy {
                logger.info("container engine answers again; claiming resumes")
                errorLimiter.reset("engine")
            }
            engineHealthy = true
        } catch {
            metrics.recordEngineError()
            if engineHealthy {
                markEngineUnhealthy(error)
            } else if let suppressed = errorLimiter.shouldLog("engine") {
                // The suppressed checks and this one.
                logger.error("container engine is still unhealthy (\(suppressed + 1) failed checks since the last report)", [(.error, "\(error)")])
            }
        }
        statusChanged()
    }

    private func reportError(_ operation: String, _ error: any Error) {
        if let suppressed = errorLimiter.shouldLog(operation) {
            let repeats = suppressed > 0 ? " (\(suppressed) more since the last report)" : ""
            logger.error("\(operation) failed\(repeats)", [(.error, "\(error)")])
        }
    }

    // MARK: Shutdown

    /// Called for SIGTERM and SIGINT.
    public func signalReceived() {
        let action = shutdown.signalReceived()
        switch action {
        case .drain:
            logger.info("shutting down: draining running jobs", [(.workerID, workerID)])
            notifier.stopping(status: statusLine())
            for runner in runners.values {
                runner.requestStop(.drain)
            }
            scheduleDeadline()
        case .detach:
            logger.info("shutting down: detaching from running containers", [(.workerID, workerID)])
            notifier.stopping(status: statusLine())
            for runner in runners.values {
                runner.requestDetach()
            }
            scheduleDeadline()
        case .exitNow:
            logger.warning("second signal: exiting now; running containers are adopted or rescued later")
        case .none:
            break
        }
        wake.signal()
    }

    private func scheduleDeadline() {
        let deadline = Duration.milliseconds(configuration.shutdown.deadline.milliseconds)
        Task {
            try? await Task.sleep(for: deadline)
            self.deadlinePassed()
        }
    }

    private func deadlinePassed() {
        if shutdown.deadlinePassed() == .exitNow {
            logger.warning("shutdown deadline passed; exiting with \(runners.count) attempts unfinished")
            wake.signal()
        }
    }
}

import BerthCore
import BerthEngine
import BerthStore
import Foundation
import Synchronization

/// Supervises one attempt of one job: prepares the workspace, creates and
/// starts the container, stores its output, enforces the timeout and the
/// workspace quota, records the result and removes the container.
///
/// The decisions live in `AttemptLifecycle`; this type carries them out.
final class AttemptRunner: Sendable {
    /// The way the runner begins.
    enum Start: Sendable {
        /// A new container for a freshly claimed attempt.
        case fresh
        /// A container that a previous daemon under the same worker id started;
        /// it may still run or may have exited meanwhile.
        case adopt(containerID: String, startedAt: Int64?, priorIntent: StopIntent?)
    }

    /// The way the runner ended.
    enum End: Sendable, Equatable {
        case finished(AttemptOutcome)
        /// The container was left running for the next daemon.
        case detached
        /// Another worker has the job's lease now, so nothing was recorded.
        case leaseLost
        /// The result could not be stored; the lease expires and a rescue records the attempt as lost.
        case unrecorded
    }

    let job: ClaimedJob
    let context: AttemptContext
    let settings: DaemonConfiguration.Queue
    let logger: Logger
    let workspace: Workspace
    let lifecycle: Mutex<AttemptLifecycle>
    let containerID = Mutex<String?>(nil)
    /// The container of a recorded attempt, which the daemon removes.
    let finishedContainer = Mutex<String?>(nil)
    /// The resume hook's preparation for a fresh container; nil for an adopted one.
    private let preparation = Mutex<AttemptPreparation?>(nil)
    /// The supervision task, cancelled when the daemon detaches.
    private let supervision = Mutex<Task<SupervisionResult, Never>?>(nil)

    init(job: ClaimedJob, context: AttemptContext, lifecycle: AttemptLifecycle = AttemptLifecycle()) {
        self.job = job
        self.context = context
        settings = context.configuration.settings(forQueue: job.queue)
        logger = context.logger.with([
            (.jobID, "\(job.lease.jobID)"), (.attempt, "\(job.lease.attempt)"), (.queue, job.queue), (.workerID, context.workerID),
        ])
        workspace = Workspace(root: context.configuration.directories.workspaces, jobID: job.lease.jobID)
        self.lifecycle = Mutex(lifecycle)
    }

    var lease: Lease { job.lease }

    /// Whether the container has exited, so a lease that ends now ended with the attempt.
    var hasExited: Bool {
        switch lifecycle.withLock({ $0.phase }) {
        case .exited, .finished, .detached: true
        case .preparing, .creating, .starting, .running, .stopping: false
        }
    }

    // MARK: Requests from the daemon

    /// Stops the container for `intent`; the first intent decides the outcome.
    func requestStop(_ intent: StopIntent) {
        let actions = lifecycle.withLock { $0.handle(.stopRequested(intent)) }
        perform(actions)
    }

    /// Lets go of the container without stopping it, for the next daemon to adopt.
    func requestDetach() {
        let actions = lifecycle.withLock { $0.handle(.detachRequested) }
        if actions.contains(.stopFollowing) {
            supervision.withLock { $0?.cancel() }
        }
    }

    func perform(_ actions: [AttemptLifecycle.Action]) {
        for action in actions {
            switch action {
            case .recordIntentAndStop(let intent):
                Task { await self.recordIntentAndStop(intent) }
            case .recordIntent(let intent):
                Task { await self.recordIntent(intent) }
            case .startContainer, .stopFollowing, .recordResult, .removeContainer:
                // Carried out in line by `run`, which asked for them.
                break
            }
        }
    }

    private func recordIntent(_ intent: StopIntent) async {
        do {
            try await context.database.run { [lease] store in
                try store.recordStopIntent(lease, intent: intent.rawValue, now: Clock.nowMilliseconds())
            }
        } catch {
            logger.warning("could not record the stop intent", [(.error, "\(error)")])
        }
    }

    private func recordIntentAndStop(_ intent: StopIntent) async {
        await recordIntent(intent)
        guard let id = containerID.withLock({ $0 }) else { return }
        logger.info("stopping container", [(.containerID, id), (.reason, intent.rawValue)])
        do {
            try await context.engine.stop(id, gracePeriod: .milliseconds(settings.stopGrace.milliseconds))
        } catch let error as ContainerEngineError {
            if error.meansEngineUnhealthy { context.reportEngineFailure(error) }
            logger.error("could not stop container; trying to kill it", [(.containerID, id), (.error, "\(error)")])
            try? await context.engine.kill(id)
        } catch {
            logger.error("could not stop container", [(.containerID, id), (.error, "\(error)")])
        }
    }

    // MARK: Running

    func run(_ start: Start) async -> End {
        let started: (id: String, startedAt: Int64)
        switch start {
        case .fresh:
            switch await createAndStart() {
            case .running(let id, let startedAt):
                started = (id, startedAt)
            case .ended(let end):
                return end
            }
        case .adopt(let id, let startedAt, let priorIntent):
            containerID.withLock { $0 = id }
            started = (id, startedAt ?? Clock.nowMilliseconds())
            logger.info("adopted container", [(.containerID, id)])
            // The previous daemon recorded this stop, but it may have died
            // before its `stop` reached the container, so the stop is sent again.
            if let priorIntent {
                perform([.recordIntentAndStop(priorIntent)])
            }
        }

        let task = Task { await self.superviseUntilExit(containerID: started.id, startedAt: started.startedAt) }
        supervision.withLock { $0 = task }
        let exit = await task.value

        if lifecycle.withLock({ $0.phase }) == .detached {
            logger.info("detached from container; the next daemon adopts it", [(.containerID, started.id)])
            return .detached
        }
        let end = await record(exit: exit.exit, pump: exit.pump, observer: exit.observer, containerID: started.id)
        if case .finished = end {
            context.metrics.observeAttemptDuration(milliseconds: Clock.nowMilliseconds() - started.startedAt)
        }
        return end
    }

    enum StartResult {
        case running(id: String, startedAt: Int64)
        case ended(End)
    }

    private func createAndStart() async -> StartResult {
        let name = ContainerLabels.containerName(databaseID: context.databaseID, jobID: lease.jobID, attempt: lease.attempt)
        let preparation: AttemptPreparation
        let secrets: [String: String]
        do {
            try FileManager.default.createDirectory(atPath: context.configuration.directories.workspaces, withIntermediateDirectories: true)
            // The resume hook creates the adapter's directories, repairing any that the job replaced.
            try workspace.prepare(containerUser: settings.user)
            preparation = try await context.resumeHook.prepareAttempt(job, workspace: workspace.path)
            secrets = try context.secrets.resolve(job.spec.secrets)
        } catch let error as SecretResolver.MissingSecret {
            return .ended(await finish(AttemptResult(outcome: .startFailed, message: error.description), containerID: nil))
        } catch {
            return .ended(await finish(AttemptResult(outcome: .failed, message: "could not prepare the attempt: \(error)"), containerID: nil))
        }

        self.preparation.withLock { $0 = preparation }
        let runSpec = makeRunSpec(name: name, preparation: preparation)
        // A podman service runs conmon as its own user and in its own working
        // directory, so the log file and the OOM marker would not reach berth.
        if context.engine.kind == .podman, !context.engine.isRemotePodman {
            return await runDetached(runSpec, secrets: secrets)
        }

        let creating = ContinuousClock.now
        let id: String
        do {
            // A container of this name is left over when a daemon died between
            // creating it and recording it; it never ran under a lease.
            try? await context.engine.remove(name)
            id = try await context.engine.create(runSpec, secrets: secrets)
        } catch {
            return .ended(await finishAfterEngineFailure(error, operation: "create", containerID: nil))
        }
        containerID.withLock { $0 = id }

        if let end = await recordCreated(id, runSpec: runSpec) {
            return .ended(end)
        }

        do {
            try await context.engine.start(id)
        } catch {
            return .ended(await finishAfterEngineFailure(error, operation: "start", containerID: id))
        }
        context.metrics.observeContainerStart(ContinuousClock.now - creating)
        return await recordStarted(id)
    }

    /// Records the container under the lease and passes `.created` to the lifecycle.
    /// Returns how the attempt ended when it ends here: the lease was lost, or
    /// a stop came before the start, and then the container is removed.
    func recordCreated(_ id: String, runSpec: ContainerRunSpec) async -> End? {
        do {
            let settingsJSON = runSettingsJSON(runSpec)
            try await context.database.run { [lease, name = runSpec.name] store in
                try store.recordContainer(lease, name: name, id: id, runSettings: settingsJSON, now: Clock.nowMilliseconds())
            }
        } catch {
            logger.warning("lost the lease before starting; removing the container", [(.containerID, id), (.error, "\(error)")])
            try? await removeContainer(id)
            return .leaseLost
        }

        let afterCreate = lifecycle.withLock { $0.handle(.created) }
        perform(afterCreate)
        if afterCreate.contains(.recordResult) {
            // Stopped before it started: the intent alone decides the outcome.
            let result = AttemptOutcomeClassifier.classify(intent: lifecycle.withLock { $0.intent }, exit: ContainerExit(exitCode: nil))
            return await finish(result, containerID: id)
        }
        return nil
    }

    /// Records the start time and passes `.started` to the lifecycle.
    func recordStarted(_ id: String) async -> StartResult {
        let startedAt = Clock.nowMilliseconds()
        try? await context.database.run { [lease] store in try store.recordStart(lease, now: startedAt) }
        logger.info("started container", [(.containerID, id)])
        perform(lifecycle.withLock { $0.handle(.started) })
        return .running(id: id, startedAt: startedAt)
    }

    /// Finishes an attempt whose engine call failed before the container ran.
    /// A failure of the engine itself puts the job back without using an
    /// attempt. Anything else, such as a missing image, is a start failure.
    func finishAfterEngineFailure(_ error: any Error, operation: String, containerID: String?) async -> End {
        if let engineError = await engineFault(behind: error) {
            context.reportEngineFailure(engineError)
            if let containerID { try? await context.engine.remove(containerID) }
            return await finish(AttemptResult(outcome: .interrupted, message: "the engine failed during \(operation): \(engineError)"), containerID: nil)
        }
        logger.error("container could not start", [(.error, "\(error)")])
        let hint = Self.startFailureHint(error, image: job.spec.image, pullPolicy: context.configuration.engine.pullPolicy.rawValue)
        let message = "\(operation) failed: \(error)\(hint)"
        return await finish(AttemptResult(outcome: .startFailed, message: message), containerID: containerID)
    }

    /// Returns what to do about a start failure whose cause the engine's
    /// message names, such as an image that is not on the host.
    static func startFailureHint(_ error: any Error, image: String, pullPolicy: String) -> String {
        let text = "\(error)"
        if text.contains("image not known") || text.contains("No such image") {
            return pullPolicy == "never"
                ? "; engine.pullPolicy is never, so build or pull \(image) on this host first"
                : "; check the image name, and that this host can pull it"
        }
        if text.contains("container-init binary not found") {
            return "; install podman's init binary, catatonit (on Debian: apt-get install catatonit)"
        }
        return ""
    }

    /// Returns the engine's own failure behind `error`. That is the error itself
    /// when it means the engine is down, or the failed health check of an engine
    /// that fails every call. Returns nil when the engine responds, because then
    /// the job itself cannot start.
    private func engineFault(behind error: any Error) async -> ContainerEngineError? {
        if let engineError = error as? ContainerEngineError, engineError.meansEngineUnhealthy {
            return engineError
        }
        do {
            try await context.engine.ping()
            return nil
        } catch let pingError as ContainerEngineError {
            return pingError
        } catch {
            return nil
        }
    }

    /// Maximum duration of one `wait` call on a running container.
    static let waitRound = Duration.seconds(30)
    /// The first `wait` call on a container: short, with a short poll interval.
    /// At 10 ms podman 4.3 used about 3% of a core while it waited.
    static let firstWaitRound = (timeout: Duration.seconds(2), pollInterval: Duration?.some(.milliseconds(10)))

    struct SupervisionResult: Sendable {
        let exit: ContainerExit
        let pump: OutputPump
        let observer: any AttemptObserver
    }

    private enum SupervisionStep: Sendable {
        case exited(ContainerExit)
        case logsEnded
        case logGraceOver
        case helperEnded
    }

    /// Follows output, enforces the timeout and quota, and waits for the exit.
    private func superviseUntilExit(containerID id: String, startedAt: Int64) async -> SupervisionResult {
        // Containers that berth started with `run --detach` have their log in
        // the attempt directory. Others, such as those of docker or a podman
        // service, are read through the engine.
        let logFile = FileManager.default.fileExists(atPath: logFilePath)
            ? ContainerLogFile(path: logFilePath, maximumLineBytes: Int(context.configuration.output.maxLineBytes.bytes))
            : nil
        let observer = context.resumeHook.makeObserver(
            for: job, workspace: workspace.path, preparation: preparation.withLock { $0 })
        let pump = OutputPump(
            lease: lease, database: context.database, maxStoredBytes: effectiveLimits.maxOutputBytes.bytes,
            batchLines: context.configuration.output.batchLines, interval: context.configuration.output.batchInterval,
            observer: observer,
            onBatch: { [metrics = context.metrics] batch in
                metrics.recordStoredOutput(batch)
            })

        let exit = await withTaskGroup(of: SupervisionStep.self) { group -> ContainerExit in
            group.addTask {
                if let logFile {
                    await self.followLogFile(logFile, of: id, into: pump)
                } else {
                    await self.followLogs(id, into: pump)
                }
                return .logsEnded
            }
            group.addTask { await pump.runTimer(); return .helperEnded }
            group.addTask { await self.enforceTimeout(startedAt: startedAt); return .helperEnded }
            group.addTask { await self.enforceWorkspaceQuota(); return .helperEnded }
            group.addTask { .exited(await self.waitForExit(id)) }

            var exit: ContainerExit? = nil
            var logsEnded = false
            loop: while let step = await group.next() {
                switch step {
                case .exited(let result):
                    exit = result
                    if logsEnded { break loop }
                    if let logFile {
                        // The file is complete once the container has exited,
                        // so its reader ends when it has read the rest.
                        logFile.containerExited()
                        continue
                    }
                    // The log reader ends on its own once it has read everything.
                    group.addTask { try? await Task.sleep(for: .seconds(10)); return .logGraceOver }
                case .logsEnded:
                    logsEnded = true
                    if exit != nil { break loop }
                case .logGraceOver:
                    logger.warning("the log reader did not end after the container exited; stopped it", [(.containerID, id)])
                    break loop
                case .helperEnded:
                    break
                }
            }
            group.cancelAll()
            return exit ?? ContainerExit(exitCode: nil, vanished: false)
        }
        if logFile == nil, !exit.vanished, lifecycle.withLock({ $0.phase }) != .detached {
            await storeMissedLines(id, after: pump)
        }
        return SupervisionResult(exit: exit, pump: pump, observer: observer)
    }

    /// Reads the exited container's whole log once more and stores the lines
    /// that following it missed. Podman's `logs --follow` can stop when the
    /// container exits, before it has read the whole log file. The lines read
    /// again get the same numbers, so only the missed ones are added.
    private func storeMissedLines(_ id: String, after pump: OutputPump) async {
        let seen = pump.linesSeen
        let catchUp = OutputPump(
            lease: lease, database: context.database, maxStoredBytes: effectiveLimits.maxOutputBytes.bytes,
            batchLines: context.configuration.output.batchLines, interval: context.configuration.output.batchInterval,
            onBatch: { [metrics = context.metrics] batch in metrics.recordStoredOutput(batch) })
        catchUp.skip(alreadyHandled: seen)
        do {
            try await context.engine.followLogs(
                id, follow: false, timeout: .milliseconds(context.configuration.engine.callTimeout.milliseconds),
                maximumLineBytes: Int(context.configuration.output.maxLineBytes.bytes)
            ) { line in
                catchUp.append(stream: line.stream == .standardOutput ? .stdout : .stderr, text: line.text, truncated: line.line.isTruncated)
            }
        } catch {
            logger.warning("reading the container's log again failed; lines the reader missed are lost", [(.containerID, id), (.error, "\(error)")])
            return
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                catchUp.writePending()
                continuation.resume()
            }
        }
        let missed = catchUp.linesSeen.reduce(0) { $0 + $1.value } - seen.reduce(0) { $0 + $1.value }
        if missed > 0 {
            logger.info("stored lines that following the container's output had missed", [(.containerID, id), (.reason, "\(missed) lines")])
        }
    }

    private func followLogFile(_ logFile: ContainerLogFile, of id: String, into pump: OutputPump) async {
        do {
            try await logFile.follow { line in
                pump.append(stream: line.stream == .standardOutput ? .stdout : .stderr, text: line.text, truncated: line.line.isTruncated)
            }
        } catch is CancellationError {
            return
        } catch {
            logger.warning("reading the container's log file failed", [(.containerID, id), (.error, "\(error)")])
        }
    }

    private func followLogs(_ id: String, into pump: OutputPump) async {
        let maximumLineBytes = Int(context.configuration.output.maxLineBytes.bytes)
        do {
            try await context.engine.followLogs(id, timeout: .seconds(Int64(TimeSpan.days(31).milliseconds / 1000)), maximumLineBytes: maximumLineBytes) { line in
                pump.append(stream: line.stream == .standardOutput ? .stdout : .stderr, text: line.text, truncated: line.line.isTruncated)
            }
        } catch is CancellationError {
            return
        } catch {
            if let engineError = error as? ContainerEngineError, engineError.meansEngineUnhealthy {
                context.reportEngineFailure(engineError)
            }
            logger.warning("following the container's output failed", [(.containerID, id), (.error, "\(error)")])
        }
    }

    /// Waits for the container to exit, riding out an engine that is down for a while.
    ///
    /// The first round polls often, because most jobs are short and podman's
    /// default poll of 250 ms would add up to that much to each of them. Later
    /// rounds use the engine's default, which costs less CPU while a long job runs.
    private func waitForExit(_ id: String) async -> ContainerExit {
        // A container started with `run --detach` has conmon's pid in the
        // attempt directory. Watching conmon needs no engine command, and it
        // learns the exit the moment it happens, so most short jobs never run
        // `podman wait`. The engine is asked only when the watch cannot tell.
        if let watch = ConmonExitWatch.open(pidFile: conmonPIDFilePath, containerID: id) {
            switch await watch.wait() {
            case .exited(let code):
                return ContainerExit(exitCode: code)
            case .cancelled:
                return ContainerExit(exitCode: nil)
            case .unknown:
                logger.debug("conmon exited without a readable exit code; asking the engine", [(.containerID, id)])
            }
        } else if FileManager.default.fileExists(atPath: conmonPIDFilePath) {
            logger.debug("cannot watch the container's conmon; asking the engine", [(.containerID, id)])
        }

        var isFirstRound = true
        while !Task.isCancelled {
            let round = isFirstRound ? Self.firstWaitRound : (timeout: Self.waitRound, pollInterval: nil)
            do {
                // Bounded, so that a wait stuck in a hung engine is started
                // again once the engine responds.
                let code = try await context.engine.wait(id, timeout: round.timeout, pollInterval: round.pollInterval)
                return ContainerExit(exitCode: code)
            } catch ContainerEngineError.noSuchContainer {
                return ContainerExit(exitCode: nil, vanished: true)
            } catch is CancellationError {
                break
            } catch ContainerEngineError.timedOut(operation: "wait", _) where isFirstRound {
                // The job runs longer than the first round. The engine is checked only after a full round.
                isFirstRound = false
            } catch ContainerEngineError.timedOut(operation: "wait", _) {
                // The container still runs, unless the engine itself stopped responding.
                do {
                    try await context.engine.ping()
                } catch let engineError as ContainerEngineError {
                    context.reportEngineFailure(engineError)
                    logger.warning("the engine does not respond while a container runs", [(.containerID, id), (.error, "\(engineError)")])
                } catch {
                    break
                }
            } catch {
                if let engineError = error as? ContainerEngineError, engineError.meansEngineUnhealthy {
                    context.reportEngineFailure(engineError)
                }
                logger.warning("waiting for the container failed; retrying", [(.containerID, id), (.error, "\(error)")])
                try? await Task.sleep(for: .seconds(5))
            }
        }
        return ContainerExit(exitCode: nil)
    }

    private func enforceTimeout(startedAt: Int64) async {
        let remaining = startedAt + effectiveLimits.timeout.milliseconds - Clock.nowMilliseconds()
        if remaining > 0 {
            do {
                try await Task.sleep(for: .milliseconds(remaining))
            } catch {
                return
            }
        }
        logger.info("job reached its timeout", [(.reason, "timeout \(effectiveLimits.timeout)")])
        requestStop(.timeout)
    }

    private func enforceWorkspaceQuota() async {
        let quota = effectiveLimits.workspaceDisk.bytes
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(2))
            } catch {
                return
            }
            // The walk blocks on the file system, so it runs off the cooperative pool.
            let used = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { [workspace] in continuation.resume(returning: workspace.diskUsage(limit: quota)) }
            }
            if used > quota {
                logger.info("workspace exceeded its disk quota", [(.reason, "\(used) bytes used, quota \(quota) bytes")])
                requestStop(.workspaceQuota)
                return
            }
        }
    }
}

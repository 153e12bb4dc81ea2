/// The life of one attempt's container, as a state machine with no I/O.
///
/// The attempt runner feeds it what happened and carries out the actions it
/// returns. The first stop intent wins: a timeout that fires while a cancel is
/// already stopping the container does not change the outcome.
public struct AttemptLifecycle: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// Workspace, secrets and run settings are being prepared.
        case preparing
        case creating
        case starting
        case running
        /// A stop was sent for `intent`; waiting for the container to exit.
        case stopping(StopIntent)
        /// The container exited; its result is being recorded.
        case exited
        /// The daemon let go of a running container for the next daemon to adopt.
        case detached
        case finished
    }

    public enum Event: Sendable, Equatable {
        case created
        case started
        case stopRequested(StopIntent)
        case detachRequested
        case exited
        case recorded
    }

    public enum Action: Sendable, Equatable {
        /// Store the intent, then ask the engine to stop the container.
        case recordIntentAndStop(StopIntent)
        /// Store the intent only; the container does not run yet and is not started.
        case recordIntent(StopIntent)
        case startContainer
        case stopFollowing
        case recordResult
        case removeContainer
    }

    public private(set) var phase: Phase = .preparing
    /// The daemon's reason for stopping, which decides the outcome.
    public private(set) var intent: StopIntent?

    public init() {}

    /// A lifecycle for a container that a previous daemon created and started,
    /// with the stop intent that daemon recorded, if any.
    public init(adoptingWithIntent intent: StopIntent?) {
        self.intent = intent
        phase = intent.map(Phase.stopping) ?? .running
    }

    public mutating func handle(_ event: Event) -> [Action] {
        switch (phase, event) {
        case (.preparing, .created), (.creating, .created):
            if let intent {
                phase = .exited
                return [.recordIntent(intent), .recordResult]
            }
            phase = .starting
            return [.startContainer]

        case (.starting, .started):
            if let intent {
                phase = .stopping(intent)
                return [.recordIntentAndStop(intent)]
            }
            phase = .running
            return []

        case (.preparing, .stopRequested(let intent)), (.creating, .stopRequested(let intent)),
             (.starting, .stopRequested(let intent)):
            // Remembered, and acted on once there is a container to stop.
            if self.intent == nil { self.intent = intent }
            return []

        case (.running, .stopRequested(let intent)):
            self.intent = intent
            phase = .stopping(intent)
            return [.recordIntentAndStop(intent)]

        case (.stopping, .stopRequested), (.exited, .stopRequested), (.finished, .stopRequested), (.detached, .stopRequested):
            return []

        case (.running, .detachRequested), (.starting, .detachRequested):
            phase = .detached
            return [.stopFollowing]

        case (_, .detachRequested):
            return []

        case (.running, .exited), (.stopping, .exited), (.starting, .exited):
            phase = .exited
            return [.recordResult]

        case (.exited, .recorded):
            phase = .finished
            return [.removeContainer]

        default:
            preconditionFailure("attempt lifecycle: event \(event) is not expected in phase \(phase)")
        }
    }
}

/// The daemon's shutdown, as a state machine with no I/O.
///
/// The first SIGTERM or SIGINT stops claiming and drains or detaches, as
/// configured; a second signal, or the deadline, exits at once.
public struct ShutdownLifecycle: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        case running
        case stopping(DaemonConfiguration.ShutdownMode)
        case exiting
    }

    public enum Action: Sendable, Equatable {
        /// Stop claiming; stop running containers and requeue their jobs.
        case drain
        /// Stop claiming; leave containers running for the next daemon.
        case detach
        /// Exit now, leaving whatever still runs to be adopted or rescued.
        case exitNow
        case none
    }

    public private(set) var phase: Phase = .running
    public let mode: DaemonConfiguration.ShutdownMode

    public init(mode: DaemonConfiguration.ShutdownMode) {
        self.mode = mode
    }

    public var isAcceptingWork: Bool { phase == .running }

    public mutating func signalReceived() -> Action {
        switch phase {
        case .running:
            phase = .stopping(mode)
            return mode == .drain ? .drain : .detach
        case .stopping:
            phase = .exiting
            return .exitNow
        case .exiting:
            return .none
        }
    }

    public mutating func deadlinePassed() -> Action {
        guard case .stopping = phase else { return .none }
        phase = .exiting
        return .exitNow
    }
}

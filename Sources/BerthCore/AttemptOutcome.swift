/// How one attempt of a job ended.
public enum AttemptOutcome: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case succeeded
    /// The job exited with a non-zero code of its own.
    case failed
    /// The engine reported that the container was killed for exceeding its memory limit.
    /// An exit code of 137 alone means "killed", not this.
    case outOfMemory = "out_of_memory"
    /// The daemon stopped the job at its wall-clock timeout.
    case timedOut = "timed_out"
    /// An operator cancelled the job while it ran.
    case cancelled
    /// The container or the worker that ran it disappeared.
    case lost
    /// The container could not be created or started, for example a missing image.
    case startFailed = "start_failed"
    /// The daemon stopped the attempt for its own drain or shutdown. It does not
    /// use up an attempt.
    case interrupted
    /// The run stopped to wait for an operator's answer, such as the Perstack
    /// runtime's interactive tool call, and the job waits in the `waiting`
    /// state. It does not use up an attempt, because nothing failed.
    case waitingForInput = "waiting_for_input"

    /// Whether this outcome uses up one of the job's attempts.
    public var countsAsAttempt: Bool { self != .interrupted && self != .waitingForInput }

    public var description: String { rawValue }
}

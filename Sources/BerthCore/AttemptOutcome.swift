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

    /// Whether this outcome uses up one of the job's attempts.
    public var countsAsAttempt: Bool { self != .interrupted }

    public var description: String { rawValue }
}

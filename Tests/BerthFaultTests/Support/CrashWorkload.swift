import BerthCore
import Foundation

/// One job of the crash workload: how berth-step-job was told to behave and
/// how the job must end.
struct PlannedJob {
    enum Kind: String {
        /// Counts its steps and exits 0.
        case succeeds
        /// Fails after a step on its first two attempts, then succeeds.
        case retries
        /// Grows its memory past the limit on every attempt; out_of_memory is not retried.
        case outOfMemory = "out-of-memory"
        /// Outlives its timeout; timed_out is not retried.
        case timesOut = "times-out"
        /// Runs for minutes until the harness cancels it.
        case cancelled
    }

    let kind: Kind
    let total: Int
    let interval: String
    /// The ACTION words of berth-step-job, such as "fail=2#1".
    let actions: [String]
    let retryOn: [String]
    let maxAttempts: Int
    let memory: String?
    let timeout: String?
    var id: Int64 = 0

    var expectedState: JobState {
        switch kind {
        case .succeeds, .retries: .succeeded
        case .outOfMemory, .timesOut: .dead
        case .cancelled: .cancelled
        }
    }

    /// The outcome the last attempt must have, or nil when any outcome may end it.
    var expectedLastOutcome: AttemptOutcome? {
        switch kind {
        case .succeeds, .retries: .succeeded
        case .outOfMemory: .outOfMemory
        case .timesOut: .timedOut
        // A cancel that arrives while the job waits for its next attempt leaves the last attempt as it ended.
        case .cancelled: nil
        }
    }

    var spec: [String: Any] {
        var limits: [String: Any] = [:]
        if let memory { limits["memory"] = memory }
        if let timeout { limits["timeout"] = timeout }
        var spec: [String: Any] = [
            "command": ["/bin/berth-step-job", "\(total)", interval] + actions,
            "retry": ["maxAttempts": maxAttempts, "retryOn": retryOn],
            "labels": ["fault-kind": kind.rawValue],
        ]
        if !limits.isEmpty { spec["limits"] = limits }
        return spec
    }

    /// Returns whether berth-step-job exits 1 right after step `step` on attempt `attempt`.
    func failsAfter(step: Int, attempt: Int) -> Bool {
        actions.contains("fail=\(step)#\(attempt)")
    }

    /// Returns the exact standard output of an attempt that starts after checkpoint
    /// step `resumedStep` (0 for a first run) and runs to its end.
    func fullOutput(attempt: Int, resumedStep: Int) -> [String] {
        var lines: [String] = []
        if resumedStep > 0 {
            let path = "/workspace/checkpoints/\(Self.checkpointName(step: resumedStep))"
            lines.append(#"{"type":"resumed","from":"\#(path)","step":\#(resumedStep),"attempt":\#(attempt)}"#)
        }
        let first = resumedStep + 1
        guard first <= total else {
            return lines + [#"{"type":"done","first":\#(first),"last":\#(total),"attempt":\#(attempt)}"#]
        }
        for step in first...total {
            lines.append(#"{"type":"step","n":\#(step),"attempt":\#(attempt)}"#)
            lines.append(#"{"type":"checkpoint","name":"\#(Self.checkpointName(step: step))"}"#)
            if failsAfter(step: step, attempt: attempt) { return lines }
        }
        lines.append(#"{"type":"done","first":\#(first),"last":\#(total),"attempt":\#(attempt)}"#)
        return lines
    }

    static func checkpointName(step: Int) -> String {
        "step-" + String(repeating: "0", count: max(0, 4 - String(step).count)) + "\(step).json"
    }

    /// Returns the step of a checkpoint file name such as step-0003.json, or nil for another name.
    static func step(ofCheckpoint name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".json") else { return nil }
        return Int(name.dropFirst(5).dropLast(5))
    }
}

/// Builds one wave of the crash workload: mostly jobs that succeed, a few that
/// fail and retry, and one each that runs out of memory, times out and is cancelled.
enum CrashWorkload {
    static func wave(size: Int, generator: inout SeededGenerator) -> [PlannedJob] {
        let generous = ["failed", "out_of_memory", "timed_out", "lost"]
        var jobs: [PlannedJob] = []

        // maxAttempts leaves room for the attempts that the harness's container kills use up.
        jobs.append(PlannedJob(
            kind: .outOfMemory, total: 3, interval: "0.2",
            actions: (1...3).flatMap { step in (1...20).map { "hog=\(step)#\($0)" } },
            retryOn: ["failed", "lost"], maxAttempts: 20, memory: "32m", timeout: nil))
        jobs.append(PlannedJob(
            kind: .timesOut, total: 600, interval: "0.5", actions: [],
            retryOn: ["failed", "lost"], maxAttempts: 20, memory: nil, timeout: "3s"))
        jobs.append(PlannedJob(
            kind: .cancelled, total: 600, interval: "0.5", actions: [],
            retryOn: generous, maxAttempts: 20, memory: nil, timeout: nil))

        let retrying = max(1, size / 6)
        for _ in 0..<retrying {
            let total = Int.random(in: 4...7, using: &generator)
            let firstFailure = Int.random(in: 1...total - 1, using: &generator)
            let secondFailure = Int.random(in: firstFailure + 1...total, using: &generator)
            jobs.append(PlannedJob(
                kind: .retries, total: total, interval: "0.3", actions: ["fail=\(firstFailure)#1", "fail=\(secondFailure)#2"],
                retryOn: generous, maxAttempts: 20, memory: nil, timeout: nil))
        }
        while jobs.count < size {
            let total = Int.random(in: 3...8, using: &generator)
            let interval = ["0.2", "0.4", "0.6"].randomElement(using: &generator)!
            jobs.append(PlannedJob(
                kind: .succeeds, total: total, interval: interval, actions: [],
                retryOn: generous, maxAttempts: 20, memory: nil, timeout: nil))
        }
        jobs.shuffle(using: &generator)
        return jobs
    }
}

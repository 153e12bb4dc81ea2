import BerthStore
import Foundation

/// Wake-up latency: the time from `berth submit` returning to the job being
/// claimed by an idle daemon on the same host.
enum WakeupBenchmark {
    static func run(_ bench: Bench) throws {
        let samples = bench.quick ? 3 : 50
        try bench.requireImage()
        bench.printHeader(
            "wakeup: from `berth submit` returning to the claim, on an idle daemon",
            settings: "\(samples) single submissions of `true`, each after the previous job finished and 300 ms of idle, "
                + "daemon pollInterval 2 s, claim times stored in whole milliseconds")

        let daemon = try DaemonHarness(bench: bench, name: "wakeup", concurrency: 1)
        defer { daemon.stop() }
        let store = try daemon.store()
        let output = daemon.directory + "/submit.out"
        var comparison = Comparison(figure: "wakeup", unit: "ms", product: "submit start to claim", reference: "berth submit itself")
        var afterReturn = Samples()
        for _ in 1...samples {
            pause(seconds: 0.3)
            let started = wallClockMilliseconds()
            try Subprocess.timed(
                [bench.berth, "--db", daemon.database, "submit", "--image", bench.image, "--max-attempts", "1", "--", "true"],
                standardOutput: output)
            let returned = wallClockMilliseconds()
            guard let id = Int64(Subprocess.readText(output).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw BenchError("berth submit printed no job id")
            }
            let claimedAt = try waitForClaim(store: store, jobID: id)
            // Negative when the daemon claimed the job before the submitting process had exited.
            afterReturn.append(Double(claimedAt) - returned)
            comparison.record(product: Double(claimedAt) - started, reference: returned - started)
            try daemon.wait([id])
        }
        comparison.report(
            target: "median from submit return to claim < 10 ms", met: afterReturn.median < 10,
            extra: "submit return to claim median \(format(afterReturn.median)) ms, p99 \(format(afterReturn.percentile(99))) ms, "
                + "max \(format(afterReturn.max)) ms")
        daemon.stop()
        bench.printFooter()
    }

    /// Polls the attempts of `jobID` until the first one exists; returns its claim time.
    static func waitForClaim(store: JobStore, jobID: Int64) throws -> Int64 {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let attempt = try store.attempts(jobID: jobID).first {
                return attempt.claimedAt
            }
            pause(seconds: 0.001)
        }
        throw BenchError("job \(jobID) was not claimed within 30 s")
    }
}

import BerthCore
import BerthStore
import Foundation

/// Scale: the median claim time with few and with many finished jobs in the table.
enum ScaleBenchmark {
    static func run(_ bench: Bench) throws {
        let small = 1_000
        let large = bench.quick ? 20_000 : 1_000_000
        let claims = bench.quick ? 200 : 1_000
        let repetitions = bench.repetitions(full: 5)
        let directory = try bench.directory("scale")
        bench.printHeader(
            "scale: claim time against the number of finished jobs",
            settings: "\(small) and \(large) finished jobs with one attempt each, \(claims) ready jobs claimed per repetition, "
                + "claims of any queue, synchronous normal, repetitions \(repetitions)")

        let spec = JobSpec(image: bench.image, command: ["true"])
        let smallDatabase = directory + "/small.db"
        let largeDatabase = directory + "/large.db"
        let fillStart = ContinuousClock.now
        for (database, finished) in [(smallDatabase, small), (largeDatabase, large)] {
            try bench.createDatabase(database)
            try bench.runScript(historyScript(spec: spec, finished: finished), database: database)
        }
        print("filled both databases in \(format((ContinuousClock.now - fillStart).seconds)) s")

        var comparison = Comparison(
            figure: "scale", unit: "µs per claim", product: "claim with \(large) finished", reference: "claim with \(small) finished")
        for _ in 1...repetitions {
            // Both sizes in each repetition, so that the machine's load affects them alike.
            let largeMedian = try medianClaimTime(database: largeDatabase, spec: spec, claims: claims)
            let smallMedian = try medianClaimTime(database: smallDatabase, spec: spec, claims: claims)
            comparison.record(product: largeMedian, reference: smallMedian)
        }
        comparison.report(target: "ratio < 1.5", met: comparison.ratios.median < 1.5)
        bench.removeDatabase(smallDatabase)
        bench.removeDatabase(largeDatabase)
        bench.printFooter()
    }

    /// Finished jobs with one succeeded attempt each, inserted by the shell in one statement per table.
    static func historyScript(spec: JobSpec, finished: Int) -> String {
        let then = Clock.nowMilliseconds() - 86_400_000
        return """
            PRAGMA foreign_keys = ON;
            BEGIN;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(finished))
            INSERT INTO jobs (queue, state, priority, run_at, spec, attempt, attempts_used, created_at, updated_at, finished_at)
            SELECT \(sqlLiteral(spec.queue)), 'succeeded', 0, \(then), \(sqlLiteral(spec.encodedJSON())), 1, 1, \(then), \(then), \(then) FROM n;
            INSERT INTO attempts (job_id, attempt, worker_id, claimed_at, started_at, finished_at, exit_code, outcome)
            SELECT id, 1, 'bench-history', \(then), \(then), \(then), 0, 'succeeded' FROM jobs;
            COMMIT;

            """
    }

    /// Submits `claims` ready jobs, then claims and finishes them one by one,
    /// timing the claims only; returns the median claim time in microseconds.
    static func medianClaimTime(database: String, spec: JobSpec, claims: Int) throws -> Double {
        let store = try JobStore(options: DatabaseOptions(path: database))
        _ = try store.submit(Array(repeating: spec, count: claims), now: Clock.nowMilliseconds() - 1000)
        let result = AttemptResult(outcome: .succeeded, exitCode: 0)
        var times = Samples()
        for _ in 1...claims {
            let start = ContinuousClock.now
            let job = try store.claim(queue: nil, worker: "bench-scale", leaseDuration: .seconds(60), now: Clock.nowMilliseconds())
            times.append((ContinuousClock.now - start).seconds * 1e6)
            guard let job else { throw BenchError("no job to claim in \(database)") }
            try store.finishAttempt(job.lease, result: result, decision: .succeed, now: Clock.nowMilliseconds())
        }
        return times.median
    }
}

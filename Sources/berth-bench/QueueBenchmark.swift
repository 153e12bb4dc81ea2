import BerthCore
import BerthStore
import Foundation
import Synchronization

/// The queue core: jobs claimed and finished through the store's own claim
/// and finish path with a job that does nothing, by one and by several loops,
/// against the `sqlite3` shell running the same statements.
///
/// Each loop takes the daemon's path: the first claim alone, then the finish
/// of each attempt together with the next claim in one write transaction.
/// The old path of one transaction for the claim and one for the finish is
/// measured beside it, because the daemon still takes it when it has no slot
/// to fill as an attempt ends.
enum QueueBenchmark {
    static let loopCounts = [1, 2, 4]

    /// The store calls that a loop makes to move from one job to the next.
    enum Path {
        /// The finish and the next claim in one transaction, as the daemon does.
        case finishAndClaim
        /// The claim and the finish in a transaction each.
        case separate
    }

    static func run(_ bench: Bench) throws {
        let jobs = bench.quick ? 1_000 : 10_000
        let repetitions = bench.repetitions(full: 3)
        let directory = try bench.directory("queue")
        bench.printHeader(
            "queue: claim and finish through JobStore, no container",
            settings: "\(jobs) ready jobs, one store connection per loop, loops \(loopCounts.map(String.init).joined(separator: "/")), "
                + "claims of any queue, as a daemon with no queues in its configuration makes them, each finish and the next claim in one transaction, "
            + "synchronous normal, repetitions \(repetitions)")

        let schema = try bench.dumpedSchema()
        let spec = JobSpec(image: bench.image, command: ["true"])
        let script = referenceScript(jobs: jobs)
        let scriptFile = directory + "/claim-finish.sql"
        try script.write(toFile: scriptFile, atomically: false, encoding: .utf8)

        var single = Comparison(figure: "queue.loops-1", unit: "jobs/s", product: "berth, 1 loop", reference: "sqlite3 shell, 1 loop")
        var several = loopCounts.dropFirst().map {
            Comparison(figure: "queue.loops-\($0)", unit: "jobs/s", product: "berth, \($0) loops", reference: "berth, 1 loop")
        }
        var named = Comparison(
            figure: "queue.named", unit: "jobs/s", product: "berth, 1 loop, claims naming the queue", reference: "berth, 1 loop")
        var alone = Comparison(figure: "queue.sqlite-alone", unit: "jobs/s", product: "berth, 1 loop", reference: "SQLite alone, 1 loop")
        var aloneCPUPerJob = Samples()
        var separate = Comparison(
            figure: "queue.separate", unit: "jobs/s", product: "berth, 1 loop, claim and finish in separate transactions",
            reference: "berth, 1 loop")
        // CPU time is reported beside the rate, because on a loaded host the
        // rate mostly shows how much of a core the loop was given.
        var cpuPerJob = Samples()
        var separateCPUPerJob = Samples()
        for _ in 1...repetitions {
            let database = directory + "/berth.db"
            var rates: [Int: Double] = [:]
            for loops in loopCounts {
                try bench.createDatabase(database)
                try fill(database: database, spec: spec, jobs: jobs)
                let cpuBefore = Machine.cpuSeconds(pid: getpid()) ?? 0
                let seconds = try claimAndFinish(database: database, loops: loops)
                if loops == 1 {
                    let cpu = (Machine.cpuSeconds(pid: getpid()) ?? 0) - cpuBefore
                    cpuPerJob.append(cpu / Double(jobs) * 1e6)
                    print("  1 loop: \(format(cpu / Double(jobs) * 1e6)) µs of CPU per job, user and system")
                }
                let finished = try bench.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'", database: database)
                guard finished == jobs else { throw BenchError("\(finished) of \(jobs) jobs finished with \(loops) loops") }
                rates[loops] = Double(jobs) / seconds
            }
            try bench.createDatabase(database)
            try fill(database: database, spec: spec, jobs: jobs)
            let namedSeconds = try claimAndFinish(database: database, loops: 1, queue: spec.queue)

            try bench.createDatabase(database)
            try fill(database: database, spec: spec, jobs: jobs)
            let separateCPUBefore = Machine.cpuSeconds(pid: getpid()) ?? 0
            let separateSeconds = try claimAndFinish(database: database, loops: 1, path: .separate)
            let separateCPU = (Machine.cpuSeconds(pid: getpid()) ?? 0) - separateCPUBefore
            separateCPUPerJob.append(separateCPU / Double(jobs) * 1e6)
            print("  1 loop, separate transactions: \(format(separateCPU / Double(jobs) * 1e6)) µs of CPU per job, user and system")
            let separateFinished = try bench.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'", database: database)
            guard separateFinished == jobs else { throw BenchError("\(separateFinished) of \(jobs) jobs finished in separate transactions") }

            let reference = directory + "/reference.db"
            try bench.createReferenceDatabase(reference, schema: schema)
            try bench.runScript(fillScript(spec: spec, jobs: jobs), database: reference)
            let referenceSeconds = try Subprocess.timed([bench.sqlite3, "-bail", reference], standardInput: scriptFile)
            let finished = try bench.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'", database: reference)
            guard finished == jobs else { throw BenchError("the shell finished \(finished) of \(jobs) jobs") }

            try bench.createDatabase(database)
            try fill(database: database, spec: spec, jobs: jobs)
            let aloneResult = try SQLiteAlone.queue(database: database)
            aloneCPUPerJob.append(aloneResult.cpuMicroseconds)
            let aloneFinished = try bench.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'", database: database)
            guard aloneFinished == jobs else { throw BenchError("SQLite alone finished \(aloneFinished) of \(jobs) jobs") }

            single.record(product: rates[1]!, reference: Double(jobs) / referenceSeconds)
            alone.record(product: rates[1]!, reference: aloneResult.rate)
            for index in several.indices {
                several[index].record(product: rates[loopCounts[index + 1]]!, reference: rates[1]!)
            }
            named.record(product: Double(jobs) / namedSeconds, reference: rates[1]!)
            separate.record(product: Double(jobs) / separateSeconds, reference: rates[1]!)
            bench.removeDatabase(database)
            bench.removeDatabase(reference)
        }
        single.report(
            target: ">= 20000 jobs/s with one loop", met: single.product.median >= 20_000,
            extra: "CPU median \(format(cpuPerJob.median)) µs per job")
        alone.report(
            target: "none; shows how close berth comes to SQLite alone, which no berth can pass", met: nil,
            extra: "SQLite alone: CPU median \(format(aloneCPUPerJob.median)) µs per job; "
                + SQLiteAlone.verdict(sqliteAlone: alone.reference.median, target: 20_000))
        for comparison in several {
            comparison.report(target: "none; shows what more loops add or cost", met: nil)
        }
        named.report(target: "none; a daemon claims this way for queues listed in its configuration", met: nil)
        separate.report(
            target: "none; the daemon's path before the finish and the next claim shared one transaction", met: nil,
            extra: "CPU median \(format(separateCPUPerJob.median)) µs per job")
        bench.printFooter()
    }

    /// Submits `jobs` copies of `spec` through the store, in batches.
    static func fill(database: String, spec: JobSpec, jobs: Int) throws {
        let store = try JobStore(options: DatabaseOptions(path: database))
        var remaining = jobs
        let now = Clock.nowMilliseconds() - 1000
        while remaining > 0 {
            let batch = min(remaining, 10_000)
            _ = try store.submit(Array(repeating: spec, count: batch), now: now)
            remaining -= batch
        }
    }

    /// Runs `loops` threads, each with its own connection, that claim and
    /// finish jobs until none is left; returns the wall time in seconds.
    static func claimAndFinish(database: String, loops: Int, queue: String? = nil, path: Path = .finishAndClaim) throws -> Double {
        let failure = Mutex<String?>(nil)
        let group = DispatchGroup()
        let start = ContinuousClock.now
        for loop in 1...loops {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    try claimUntilEmpty(database: database, worker: "bench-loop-\(loop)", queue: queue, path: path)
                } catch {
                    failure.withLock { $0 = "loop \(loop): \(error)" }
                }
            }
            thread.start()
        }
        group.wait()
        let seconds = (ContinuousClock.now - start).seconds
        if let message = failure.withLock({ $0 }) {
            throw BenchError(message)
        }
        return seconds
    }

    /// One worker loop: what the daemon does around a job, without the container.
    static func claimUntilEmpty(database: String, worker: String, queue: String?, path: Path) throws {
        let store = try JobStore(options: DatabaseOptions(path: database))
        let request = ClaimRequest(queue: queue, worker: worker, leaseDuration: .seconds(60))
        let result = AttemptResult(outcome: .succeeded, exitCode: 0)
        var next = try store.claim(request, now: Clock.nowMilliseconds())
        while let job = next {
            switch path {
            case .finishAndClaim:
                next = try store.finishAttemptAndClaim(
                    job.lease, result: result, decision: .succeed, next: request, now: Clock.nowMilliseconds())
            case .separate:
                try store.finishAttempt(job.lease, result: result, decision: .succeed, now: Clock.nowMilliseconds())
                next = try store.claim(request, now: Clock.nowMilliseconds())
            }
        }
    }

    /// Inserts `jobs` ready jobs with the spec's canonical JSON, for the shell's run.
    static func fillScript(spec: JobSpec, jobs: Int) -> String {
        let now = Clock.nowMilliseconds() - 1000
        return """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(jobs))
            INSERT INTO jobs (queue, state, priority, run_at, spec, created_at, updated_at)
            SELECT \(sqlLiteral(spec.queue)), 'queued', 0, \(now), \(sqlLiteral(spec.encodedJSON())), \(now), \(now) FROM n;

            """
    }

    /// The statements of `JobStore.claim` and `JobStore.finishAttemptAndClaim`
    /// in the daemon's transactions: the first claim alone, then one
    /// transaction per job that finishes it and claims the next. The shell
    /// cannot carry a returned id into the next statement, so the later
    /// statements find the running job by its lease owner.
    static func referenceScript(jobs: Int) -> String {
        // The script is written before the jobs are, so its clock runs a day
        // ahead: every job submitted during the run is ready by then.
        let now = Clock.nowMilliseconds() + 86_400_000
        let lease = now + 60_000
        let claim = """
            UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = 'shell', lease_expires_at = \(lease),
                cancel_requested = 0, updated_at = \(now)
            WHERE id = (SELECT id FROM jobs INDEXED BY jobs_ready WHERE state IN ('queued', 'failed') AND run_at <= \(now)
                        ORDER BY priority DESC, run_at, id LIMIT 1)
            RETURNING id, attempt, queue, spec, attempts_used, resume_from, input_answer;
            INSERT INTO attempts (job_id, attempt, worker_id, claimed_at, resumed_from)
            SELECT id, attempt, 'shell', \(now), resume_from FROM jobs WHERE state = 'running' AND lease_owner = 'shell';

            """
        let finish = """
            UPDATE attempts SET finished_at = \(now), exit_code = 0, outcome = 'succeeded', message = NULL
            WHERE (job_id, attempt) = (SELECT id, attempt FROM jobs WHERE state = 'running' AND lease_owner = 'shell');
            UPDATE jobs SET state = 'succeeded', run_at = COALESCE(NULL, run_at), attempts_used = attempts_used + 1,
                finished_at = \(now), last_error = COALESCE(NULL, last_error), updated_at = \(now),
                lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
            WHERE state = 'running' AND lease_owner = 'shell';

            """
        let firstClaim = "BEGIN IMMEDIATE;\n" + claim + "COMMIT;\n"
        let finishAndClaim = "BEGIN IMMEDIATE;\n" + finish + claim + "COMMIT;\n"
        return "PRAGMA synchronous = NORMAL;\nPRAGMA foreign_keys = ON;\n" + firstClaim + String(repeating: finishAndClaim, count: jobs)
    }
}

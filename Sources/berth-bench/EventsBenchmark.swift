import BerthCore
import BerthStore
import Foundation

/// Event ingestion: one container job prints JSON lines of about 200 bytes,
/// which the daemon stores, against the `sqlite3` shell inserting the same rows.
/// A second measurement takes the daemon's peak resident memory during a 1 GB stream.
enum EventsBenchmark {
    /// One event line: 199 bytes of JSON and a newline.
    static let line: String = {
        let head = #"{"type":"progress","step":1,"total":1000000,"message":""#
        return head + String(repeating: "x", count: 199 - head.utf8.count - 2) + #""}"#
    }()

    /// Lines per transaction in the shell's run, as the daemon's default `output.batchLines`.
    static let batchLines = 500

    static func run(_ bench: Bench) throws {
        let lines = bench.quick ? 5_000 : 1_000_000
        let streamLines = bench.quick ? 100_000 : 5_000_000
        let repetitions = bench.repetitions(full: 3)
        try bench.requireImage()
        bench.printHeader(
            "events: storing one job's JSON lines",
            settings: "\(lines) lines of \(line.utf8.count + 1) bytes from `yes | head` in the container, which stays up "
                + "until every line is stored, daemon defaults (batches of \(batchLines) lines or 50 ms), "
                + "shell batches of \(batchLines) lines, synchronous normal, repetitions \(repetitions)")

        let directory = try bench.directory("events-reference")
        let schema = try bench.dumpedSchema()
        let scriptFile = directory + "/events.sql"
        try referenceScript(lines: lines).write(toFile: scriptFile, atomically: false, encoding: .utf8)

        var comparison = Comparison(figure: "events.rate", unit: "events/s", product: "berth daemon", reference: "sqlite3 shell")
        var alone = Comparison(figure: "events.sqlite-alone", unit: "events/s", product: "berth daemon", reference: "SQLite alone")
        var lost = 0
        var cpuPerEvent = Samples()
        let daemon = try DaemonHarness(bench: bench, name: "events", concurrency: 1)
        defer { daemon.stop() }
        for _ in 1...repetitions {
            let cpuBefore = Machine.cpuSeconds(pid: daemon.pid) ?? 0
            let stream = try runJob(daemon: daemon, lines: lines, holdOpen: true)
            lost += stream.lost
            let cpu = (Machine.cpuSeconds(pid: daemon.pid) ?? 0) - cpuBefore
            cpuPerEvent.append(cpu / Double(max(1, stream.stored)) * 1e6)

            let reference = directory + "/reference.db"
            try bench.createReferenceDatabase(reference, schema: schema)
            let seconds = try Subprocess.timed([bench.sqlite3, "-bail", reference], standardInput: scriptFile)
            let stored = try bench.count("SELECT count(*) FROM events", database: reference)
            guard stored == lines else { throw BenchError("the shell stored \(stored) of \(lines) events") }
            bench.removeDatabase(reference)
            comparison.record(product: stream.rate, reference: Double(lines) / seconds)

            // Transactions of 8 batches: the most the daemon gathers while its writer is busy.
            let aloneDatabase = directory + "/sqlite-alone.db"
            try bench.createDatabase(aloneDatabase)
            let aloneRate = try SQLiteAlone.events(database: aloneDatabase, line: line, count: lines, batchLines: 8 * batchLines)
            guard try bench.count("SELECT count(*) FROM events", database: aloneDatabase) == lines else {
                throw BenchError("SQLite alone did not store \(lines) events")
            }
            bench.removeDatabase(aloneDatabase)
            alone.record(product: stream.rate, reference: aloneRate)
        }

        // The same job in a container that exits as soon as it has printed.
        let exiting = try runJob(daemon: daemon, lines: lines, holdOpen: false)
        comparison.report(
            target: ">= 300000 events/s, every line stored",
            met: comparison.product.median >= 300_000 && lost == 0 && exiting.lost == 0,
            extra: "\(lost) lines lost in all repetitions, \(exiting.lost) of \(lines) lost when the container exits at once, "
                + "daemon CPU median \(format(cpuPerEvent.median)) µs per stored event")
        alone.report(
            target: "none; shows how close berth comes to SQLite alone, which no berth can pass", met: nil,
            extra: SQLiteAlone.verdict(sqliteAlone: alone.reference.median, target: 300_000))
        daemon.stop()

        let command = ["sh", "-c", "yes '\(line)' | head -n \(lines)"]
        let engineRate = try engineLogRate(bench, command: command, lines: lines)
        print("engine alone: `podman logs` of the same output, read after the container exited: \(format(engineRate)) lines/s")

        try measurePeakMemory(bench, streamLines: streamLines)
        bench.printFooter()
    }

    /// What one job's stream left in the database.
    struct Stream {
        var stored: Int
        var lost: Int
        /// Stored lines per second between the first and the last line's arrival.
        var rate: Double
    }

    /// Runs one job that prints `lines` event lines. With `holdOpen`, the
    /// container stays up after printing until every line is stored or none
    /// arrived for 15 s, because podman's log follower stops when the
    /// container exits, possibly before it has read the whole log.
    static func runJob(daemon: DaemonHarness, lines: Int, holdOpen: Bool, maxOutputBytes: ByteSize? = nil) throws -> Stream {
        let release = ".bench-release"
        let hold = holdOpen ? "; while [ ! -e /workspace/\(release) ]; do sleep 0.1; done" : ""
        let command = ["sh", "-c", "yes '\(line)' | head -n \(lines)\(hold)"]
        let ids = try daemon.submit(specLines: [daemon.bench.specLine(command, maxOutputBytes: maxOutputBytes)])
        if holdOpen {
            let countQuery = "SELECT count(*) FROM events WHERE job_id = \(ids[0])"
            var stored = -1
            var lastProgress = ContinuousClock.now
            while ContinuousClock.now - lastProgress < .seconds(15) {
                pause(seconds: 0.5)
                let count = try daemon.bench.count(countQuery, database: daemon.database)
                if count >= lines { break }
                if count != stored {
                    stored = count
                    lastProgress = ContinuousClock.now
                }
            }
            // The job's workspace, <workspaces>/<job id>, is its /workspace.
            let marker = daemon.directory + "/workspaces/\(ids[0])/\(release)"
            guard FileManager.default.createFile(atPath: marker, contents: nil) else {
                throw BenchError("cannot create \(marker) to end the job")
            }
        }
        try daemon.wait(ids, timeout: "2h")

        let row = try daemon.bench.query(
            "SELECT count(*), min(at), max(at) FROM events WHERE job_id = \(ids[0])", database: daemon.database)
        let fields = row.split(separator: "|").compactMap { Double($0) }
        guard fields.count == 3 else { throw BenchError("job \(ids[0]) stored no events (\(row))") }
        let stored = Int(fields[0])
        reportLoss(stored: stored, printed: lines)
        return Stream(stored: stored, lost: lines - stored, rate: Double(stored - 1) / max(0.001, (fields[2] - fields[1]) / 1000))
    }

    /// Runs the job's command in a plain container and times `podman logs`
    /// after it exited: the rate at which the engine hands out the lines.
    static func engineLogRate(_ bench: Bench, command: [String], lines: Int) throws -> Double {
        let container = try Subprocess.output([bench.podman, "run", "--detach", "--network", "none", bench.image] + command)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? Subprocess.timed([bench.podman, "rm", "--force", container]) }
        try Subprocess.timed([bench.podman, "wait", container])
        let output = Subprocess.temporaryFile("logs")
        defer { unlink(output) }
        let seconds = try Subprocess.timed([bench.podman, "logs", container], standardOutput: output)
        let count = (try? Data(contentsOf: URL(fileURLWithPath: output)))?.reduce(0) { $0 + ($1 == 0x0a ? 1 : 0) } ?? 0
        guard count == lines else { throw BenchError("podman logs printed \(count) of \(lines) lines") }
        return Double(lines) / seconds
    }

    /// Prints how many lines the job printed that are missing from the database.
    static func reportLoss(stored: Int, printed: Int) {
        guard stored != printed else { return }
        print("  LOST OUTPUT: the job printed \(printed) lines and \(stored) were stored")
    }

    /// Builds the shell's script: the rows the daemon stores for the job, as
    /// `INSERT` statements in batches of `batchLines`, under a job and attempt
    /// row for the foreign key.
    static func referenceScript(lines: Int) -> String {
        let now = Clock.nowMilliseconds()
        var script = """
            PRAGMA synchronous = NORMAL;
            PRAGMA foreign_keys = ON;
            INSERT INTO jobs (id, queue, state, run_at, spec, attempt, created_at, updated_at)
            VALUES (1, 'default', 'running', \(now), '{}', 1, \(now), \(now));
            INSERT INTO attempts (job_id, attempt, worker_id, claimed_at) VALUES (1, 1, 'shell', \(now));

            """
        let payload = sqlLiteral(line)
        for sequence in 1...lines {
            if sequence % batchLines == 1 { script += "BEGIN IMMEDIATE;\n" }
            script += "INSERT OR IGNORE INTO events (job_id, attempt, seq, at, type, is_json, truncated, payload) "
                + "VALUES (1, 1, \(sequence), \(now), 'progress', 1, 0, \(payload));\n"
            if sequence % batchLines == 0 || sequence == lines { script += "COMMIT;\n" }
        }
        return script
    }

    /// Runs one job that prints `streamLines` lines on a fresh daemon, every
    /// line stored, and reports the daemon's peak resident memory (VmHWM)
    /// against its idle size.
    static func measurePeakMemory(_ bench: Bench, streamLines: Int) throws {
        let megabytes = Double(streamLines * (line.utf8.count + 1)) / 1e6
        print("peak memory: one job printing \(streamLines) lines (\(format(megabytes)) MB), container up until every line is stored")
        var comparison = Comparison(figure: "events.peak-memory", unit: "MB", product: "daemon peak RSS", reference: "daemon idle RSS")
        var lost = 0
        for _ in 1...(bench.quick ? 1 : 2) {
            let daemon = try DaemonHarness(bench: bench, name: "events-stream", concurrency: 1)
            defer { daemon.stop() }
            pause(seconds: 1)
            let idle = try daemon.residentMemory().current
            let start = ContinuousClock.now
            let stream = try runJob(daemon: daemon, lines: streamLines, holdOpen: true, maxOutputBytes: .gibibytes(2))
            let peak = try daemon.residentMemory().peak
            lost += stream.lost
            print("  \(stream.stored) lines stored in \(format((ContinuousClock.now - start).seconds)) s, \(format(stream.rate)) events/s")
            comparison.record(product: peak / 1e6, reference: idle / 1e6)
            daemon.stop()
            bench.removeDatabase(daemon.database)
        }
        comparison.report(
            target: "peak < 64 MB", met: comparison.product.max < 64, extra: "\(lost) lines lost in all repetitions")
    }
}

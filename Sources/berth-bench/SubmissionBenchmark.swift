import BerthCore
import BerthStore
import Foundation

/// Batch submission: `berth submit --file` against the `sqlite3` shell
/// inserting the same rows into the same schema in one transaction.
enum SubmissionBenchmark {
    static func run(_ bench: Bench) throws {
        let jobs = bench.quick ? 2_000 : 100_000
        let repetitions = bench.repetitions(full: 5)
        let directory = try bench.directory("submit")
        bench.printHeader(
            "submit: batch submission through `berth submit --file`",
            settings: "\(jobs) jobs per batch, one transaction, synchronous normal, WAL, repetitions \(repetitions)")

        let specsFile = directory + "/specs.jsonl"
        var specs = ""
        var inserts = "PRAGMA synchronous = NORMAL;\nPRAGMA foreign_keys = ON;\nBEGIN IMMEDIATE;\n"
        var aloneRows: [SQLiteAlone.JobRow] = []
        let now = Clock.nowMilliseconds()
        for index in 1...jobs {
            let line = specLine(index: index, image: bench.image)
            specs += line + "\n"
            // The canonical JSON berth stores, so both sides write the same bytes.
            let spec = try JobSpec.decode(json: Data(line.utf8))
            aloneRows.append(SQLiteAlone.JobRow(queue: spec.queue, json: spec.encodedJSON(), idempotencyKey: spec.idempotencyKey!))
            inserts += """
                INSERT INTO jobs (queue, state, priority, run_at, spec, idempotency_key, created_at, updated_at) \
                VALUES (\(sqlLiteral(spec.queue)), 'queued', \(spec.priority), \(now), \(sqlLiteral(spec.encodedJSON())), \
                \(sqlLiteral(spec.idempotencyKey!)), \(now), \(now)) ON CONFLICT (idempotency_key) DO NOTHING;

                """
        }
        inserts += "COMMIT;\n"
        try specs.write(toFile: specsFile, atomically: false, encoding: .utf8)
        let insertsFile = directory + "/inserts.sql"
        try inserts.write(toFile: insertsFile, atomically: false, encoding: .utf8)
        print("spec line: \(specLine(index: 1, image: bench.image)) (\(specs.utf8.count / jobs) bytes on average)")

        let schema = try bench.dumpedSchema()
        var comparison = Comparison(figure: "submit", unit: "jobs/s", product: "berth submit --file", reference: "sqlite3 shell")
        var alone = Comparison(figure: "submit.sqlite-alone", unit: "jobs/s", product: "berth submit --file", reference: "SQLite alone")
        for repetition in 1...repetitions {
            let berthDatabase = directory + "/berth.db"
            let referenceDatabase = directory + "/reference.db"
            try bench.createDatabase(berthDatabase)
            try bench.createReferenceDatabase(referenceDatabase, schema: schema)

            // Alternate which side runs first, so that drift in the machine's load hits both.
            var berthSeconds = 0.0
            var referenceSeconds = 0.0
            let runBerth = {
                berthSeconds = try Subprocess.timed([bench.berth, "--db", berthDatabase, "submit", "--file", specsFile])
            }
            let runReference = {
                referenceSeconds = try Subprocess.timed([bench.sqlite3, "-bail", referenceDatabase], standardInput: insertsFile)
            }
            if repetition % 2 == 1 {
                try runBerth()
                try runReference()
            } else {
                try runReference()
                try runBerth()
            }

            for database in [berthDatabase, referenceDatabase] {
                let stored = try bench.count("SELECT count(*) FROM jobs", database: database)
                guard stored == jobs else { throw BenchError("\(database) holds \(stored) jobs after the batch; expected \(jobs)") }
            }
            comparison.record(product: Double(jobs) / berthSeconds, reference: Double(jobs) / referenceSeconds)
            bench.removeDatabase(berthDatabase)
            bench.removeDatabase(referenceDatabase)

            let aloneDatabase = directory + "/sqlite-alone.db"
            try bench.createDatabase(aloneDatabase)
            let aloneRate = try SQLiteAlone.submission(database: aloneDatabase, rows: aloneRows)
            guard try bench.count("SELECT count(*) FROM jobs", database: aloneDatabase) == jobs else {
                throw BenchError("SQLite alone did not store \(jobs) jobs")
            }
            alone.record(product: Double(jobs) / berthSeconds, reference: aloneRate)
            bench.removeDatabase(aloneDatabase)
        }
        let rateMet = comparison.product.median >= 200_000
        let ratioMet = comparison.ratios.median >= 0.5
        comparison.report(
            target: ">= 200000 jobs/s and ratio >= 0.5", met: rateMet && ratioMet,
            extra: Comparison.judgesTargets ? "rate \(rateMet ? "met" : "missed"), ratio \(ratioMet ? "met" : "missed")" : nil)
        alone.report(target: "none; shows how close berth comes to SQLite alone, which no berth can pass", met: nil,
                     extra: SQLiteAlone.verdict(sqliteAlone: alone.reference.median, target: 200_000))
        bench.printFooter()
    }

    /// One job spec of the batch, with the fields a batch submitter typically sets.
    static func specLine(index: Int, image: String) -> String {
        #"{"image":"\#(image)","command":["berth-test-job","stdout","job \#(index)"],"#
            + #""env":{"INDEX":"\#(index)"},"labels":{"batch":"bench"},"limits":{"memory":"64m","timeout":"1m"},"#
            + #""idempotencyKey":"bench-\#(index)"}"#
    }
}

import BerthCore
import BerthDaemon
import BerthStore
import Foundation
import Synchronization

/// `berth submit`: one job from options, one from `--spec JSON`, or a batch from a JSON-lines file.
struct SubmitCommand: Command {
    let name = "submit"
    let summary = "Submit a job, or a batch of jobs from a JSON-lines file."
    let usage = "--image IMAGE [options] -- COMMAND [ARGUMENTS...]\n       berth submit --spec JSON\n       berth submit --file FILE|-"
    let details = """
        Prints the id of each job, one per line. A job whose --idempotency-key is
        already stored is not submitted again; its existing id is printed instead.

        With --file, each line holds one job spec (a JSON object, as printed under
        "spec" by `berth show --json`). Blank lines are skipped. Every line is
        validated, and each problem of the first 100 invalid lines is reported
        with its line number. The jobs are stored in one transaction, which is
        committed only when all lines are valid.

        Exit status: 64 when a spec is invalid, given with --spec, the options or
        --file, or when the file contains no specs; nothing is stored then.
        """

    static let specOptionNames: Set<String> = [
        "image", "queue", "priority", "env", "secret", "memory", "cpus", "pids", "timeout",
        "workspace-disk", "max-output", "max-attempts", "retry-delay", "max-retry-delay",
        "idempotency-key", "run-at", "label", "hold",
    ]

    let options: [OptionDefinition] = [
        .value("image", "IMAGE", "Container image to run, such as alpine:3.20."),
        .value("queue", "NAME", "Queue to submit to. Default: default."),
        .value("priority", "N", "Priority from -1000 to 1000; higher runs first. Default: 0."),
        .value("env", "NAME=VALUE", "Environment variable for the job.", repeatable: true),
        .value("secret", "NAME", "Secret the daemon resolves and passes as the variable NAME; never stored.", repeatable: true),
        .value("memory", "SIZE", "Memory limit, such as 512m or 2g (binary units). Default: the queue's."),
        .value("cpus", "N", "CPU limit in cores, such as 1.5. Default: the queue's."),
        .value("pids", "N", "Maximum number of processes in the container. Default: the queue's."),
        .value("timeout", "DURATION", "Wall-clock limit per attempt, such as 30m or 2h. Default: the queue's."),
        .value("workspace-disk", "SIZE", "Disk quota of the job's workspace, such as 10g. Default: the queue's."),
        .value("max-output", "SIZE", "Output stored per attempt, such as 100m. Default: the queue's."),
        .value("max-attempts", "N", "Attempts before the job is dead, from 1 to 100. Default: the queue's."),
        .value("retry-delay", "DURATION", "Backoff before the first retry, such as 10s. Default: the queue's."),
        .value("max-retry-delay", "DURATION", "Cap on the backoff, such as 10m. Default: the queue's."),
        .value("idempotency-key", "KEY", "Submit only once per KEY; a repeat prints the existing job's id."),
        .value("run-at", "TIME", "Earliest start, ISO 8601 with a zone, such as 2026-12-24T09:00:00Z."),
        .value("label", "KEY=VALUE", "Label for filtering with `berth ls --label`.", repeatable: true),
        .flag("hold", "Submit held: the job runs only after `berth approve`. Also holds the jobs of --spec and --file."),
        .value("spec", "JSON", "The whole job spec as one JSON object, instead of the options above."),
        .value("file", "FILE", "Submit every line of a JSON-lines FILE (or - for standard input)."),
        .flag("json", "Print {\"created\":…,\"id\":…} per job instead of bare ids; with --file also \"line\", the spec's line number."),
    ]

    /// Job options that also apply to every job of --spec and --file.
    static let batchOptionNames: Set<String> = ["hold"]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        let jobOptions = Self.specOptionNames.subtracting(Self.batchOptionNames).filter { arguments.has($0) }.sorted()
        let usesSpecOptions = !jobOptions.isEmpty || arguments.trailing != nil
        let sources = [usesSpecOptions, arguments.has("spec"), arguments.has("file")].filter { $0 }.count
        guard sources == 1 else {
            throw UsageError(conflictMessage(arguments, jobOptions: jobOptions, sources: sources), command: name)
        }
        guard arguments.positionals.isEmpty else {
            let image = arguments.value("image") ?? "alpine:3.20"
            throw UsageError(
                "unexpected argument \(arguments.positionals[0]); put the job's command after --, as in: berth submit --image \(image) -- echo hello",
                command: name)
        }

        if let path = arguments.value("file") {
            try submitBatch(path: path, hold: arguments.has("hold"), json: arguments.has("json"), context: context)
            return
        }

        let spec: JobSpec
        do {
            if let json = arguments.value("spec") {
                var decoded = try JobSpec.decode(json: Data(json.utf8))
                if arguments.has("hold") { decoded.hold = true }
                spec = decoded
            } else {
                spec = try validatedSpecFromOptions(arguments)
            }
        } catch let error as SpecError {
            // The spec came from this command line, so a bad value is a usage error.
            throw UsageError(messages: error.allProblems.map(\.description), command: name)
        }
        let result = try context.store(creatingDatabase: true).submit([spec], now: context.now())
        printResults(result, lines: nil, json: arguments.has("json"), context: context)
        context.wakeLocalDaemons()
    }

    private func specFromOptions(_ arguments: ParsedArguments) throws -> JobSpec {
        guard let image = arguments.value("image") else {
            throw UsageError("--image is required with -- COMMAND", command: name)
        }
        guard let command = arguments.trailing, !command.isEmpty else {
            throw UsageError("the job's command is missing; put it after --, as in: berth submit --image \(image) -- echo hello", command: name)
        }

        var spec = JobSpec(image: image, command: command)
        if let queue = arguments.value("queue") { spec.queue = queue }
        if let priority = arguments.value("priority") { spec.priority = try integer(priority, option: "priority") }
        spec.env = try keyValuePairs(arguments.all("env"), option: "env", form: "NAME=VALUE")
        spec.secrets = arguments.all("secret")
        spec.labels = try keyValuePairs(arguments.all("label"), option: "label", form: "KEY=VALUE")
        spec.idempotencyKey = arguments.value("idempotency-key")
        spec.hold = arguments.has("hold")
        if let runAt = arguments.value("run-at") {
            spec.runAt = try RunAtTime.parse(runAt, field: "--run-at")
        }

        spec.limits.memory = try arguments.value("memory").map { try size($0, option: "memory") }
        spec.limits.cpus = try arguments.value("cpus").map { try number($0, option: "cpus") }
        spec.limits.pids = try arguments.value("pids").map { try integer($0, option: "pids") }
        spec.limits.timeout = try arguments.value("timeout").map { try duration($0, option: "timeout") }
        spec.limits.workspaceDisk = try arguments.value("workspace-disk").map { try size($0, option: "workspace-disk") }
        spec.limits.maxOutputBytes = try arguments.value("max-output").map { try size($0, option: "max-output") }
        spec.retry.maxAttempts = try arguments.value("max-attempts").map { try integer($0, option: "max-attempts") }
        spec.retry.initialDelay = try arguments.value("retry-delay").map { try duration($0, option: "retry-delay") }
        spec.retry.maxDelay = try arguments.value("max-retry-delay").map { try duration($0, option: "max-retry-delay") }
        return spec
    }

    /// Returns the usage error for ways of giving jobs that were combined, naming the options given.
    private func conflictMessage(_ arguments: ParsedArguments, jobOptions: [String], sources: Int) -> String {
        guard sources > 0 else {
            return "nothing to submit; give --image IMAGE -- COMMAND, --spec JSON or --file FILE"
        }
        var fieldOptions = jobOptions.map { "--\($0)" }
        if arguments.trailing != nil { fieldOptions.append("-- COMMAND") }
        let whole = ["spec", "file"].filter { arguments.has($0) }.map { "--\($0)" }
        guard !fieldOptions.isEmpty else {
            return "--spec and --file cannot be combined; submit one of them at a time"
        }
        return "\(whole.joined(separator: " and ")) cannot be combined with \(fieldOptions.joined(separator: ", ")); "
            + "put those fields into the spec instead (only --hold applies to --spec and --file)"
    }

    /// The option that sets each spec field, so that an error names what was typed.
    private static let optionForField = [
        "image": "image", "queue": "queue", "priority": "priority", "idempotencyKey": "idempotency-key",
        "runAt": "run-at", "limits.memory": "memory", "limits.cpus": "cpus", "limits.pids": "pids",
        "limits.timeout": "timeout", "limits.workspaceDisk": "workspace-disk", "limits.maxOutputBytes": "max-output",
        "retry.maxAttempts": "max-attempts", "retry.initialDelay": "retry-delay", "retry.maxDelay": "max-retry-delay",
    ]

    /// Builds and validates the spec of the job options. A validation error
    /// names the option and the text given to it, such as `--memory 512`.
    private func validatedSpecFromOptions(_ arguments: ParsedArguments) throws -> JobSpec {
        let spec = try specFromOptions(arguments)
        do {
            try spec.validate()
        } catch {
            throw UsageError(messages: error.allProblems.map { optionError($0, arguments) }, command: name)
        }
        return spec
    }

    private func optionError(_ error: SpecError, _ arguments: ParsedArguments) -> String {
        guard let option = Self.optionForField[error.field], let typed = arguments.value(option) else {
            return "\(error)"
        }
        return "--\(option) \(typed): \(error.problem)"
    }

    /// Validates every line, reports every invalid one, and stores all or nothing.
    private func submitBatch(path: String, hold: Bool, json: Bool, context: CommandContext) throws {
        if path != "-" {
            var status = stat()
            guard stat(path, &status) == 0 else {
                let reason = errno == ENOENT ? "no such file; check the path, or give - to read standard input" : String(cString: strerror(errno))
                throw CommandFailure("cannot read \(path): \(reason)")
            }
            if status.st_mode & S_IFMT == S_IFDIR {
                throw CommandFailure("cannot read \(path): it is a directory; give a file with one JSON job spec per line, or - for standard input")
            }
        }
        let data: Data
        do {
            data = path == "-"
                ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            // Foundation's own text for a read error does not name the cause; the system error does.
            let cause = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)
                .map { String(cString: strerror(Int32($0.code))) } ?? error.localizedDescription
            throw CommandFailure("cannot read \(path): \(cause)")
        }

        let decoder = BatchDecoder(lines: Self.lines(of: data), source: path == "-" ? "stdin" : path, hold: hold)
        let results: [SubmitResult]
        let lineNumbers: [Int]
        if let stored = try submitWhileDecoding(decoder, context: context) {
            (results, lineNumbers) = stored
        } else {
            let decoded = decoder.all()
            let invalidCount = decoded.invalidLines.count
            guard invalidCount == 0 else {
                let maxListedLines = 100
                for problem in decoded.invalidLines.prefix(maxListedLines).joined() {
                    context.printError(problem)
                }
                if invalidCount > maxListedLines {
                    context.printError("… and \(invalidCount - maxListedLines) more invalid lines")
                }
                // Invalid specs are bad input, as with --spec, so they exit with the usage status.
                throw CommandFailure(
                    "\(invalidCount) of \(decoded.specs.count + invalidCount) lines \(invalidCount == 1 ? "is" : "are") invalid; nothing was submitted. "
                        + "Fix the lines above and submit the file again",
                    status: BerthCommandLine.ExitStatus.usage)
            }
            guard !decoded.specs.isEmpty else {
                throw CommandFailure(
                    "\(path == "-" ? "standard input" : path) contains no job specs; nothing was submitted. Give a file with one JSON job spec per line",
                    status: BerthCommandLine.ExitStatus.usage)
            }
            results = try context.store(creatingDatabase: true).submit(encoded: decoded.specs, now: context.now())
            lineNumbers = decoded.lineNumbers
        }
        printResults(results, lines: lineNumbers, json: json, context: context)
        context.wakeLocalDaemons()
    }

    /// Stores the parts of a batch in one transaction while later parts are
    /// still decoded, so reading and storing overlap. Returns nil with nothing
    /// stored when a part has an invalid line or the file has no spec, and the
    /// caller reports that once every line is checked. Also returns nil when
    /// the database does not exist yet, because a new one is created only for
    /// a valid file.
    /// NOTE: the write lock is held from the first part on, so a file whose
    /// last line is invalid keeps other writers waiting about as long as
    /// storing a valid file of that size would.
    private func submitWhileDecoding(_ decoder: BatchDecoder, context: CommandContext) throws -> (results: [SubmitResult], lineNumbers: [Int])? {
        guard FileManager.default.fileExists(atPath: context.databasePath) else { return nil }
        // The write lock is not taken for a file whose first lines are already invalid.
        guard decoder.part(0).invalidLines.isEmpty else { return nil }

        struct InvalidPart: Error {}
        var lineNumbers: [Int] = []
        var next = 0
        do {
            let results = try context.store().submit(now: context.now()) {
                guard next < decoder.partCount else { return nil }
                let part = decoder.part(next)
                next += 1
                guard part.invalidLines.isEmpty else { throw InvalidPart() }
                lineNumbers += part.lineNumbers
                return part.specs
            }
            return results.isEmpty ? nil : (results, lineNumbers)
        } catch is InvalidPart {
            return nil
        } catch {
            // The database failed, for example locked past the busy timeout,
            // before every line was read. An invalid line is still the error
            // to report, as it would be without the database.
            guard decoder.all().invalidLines.isEmpty else { return nil }
            throw error
        }
    }

    /// Splits `data` at every newline and returns the lines, the last one
    /// included even when empty. Scanning the bytes directly is several times
    /// faster than `Data.split`, which took an eighth of the time of a large batch.
    static func lines(of data: Data) -> [Data] {
        data.withUnsafeBytes { bytes in
            var lines: [Data] = []
            var start = 0
            while let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(Data(bytes[start..<end]))
                start = end + 1
            }
            lines.append(Data(bytes[start...]))
            return lines
        }
    }

    private func printResults(_ results: [SubmitResult], lines: [Int]?, json: Bool, context: CommandContext) {
        for (index, result) in results.enumerated() {
            if json {
                let line = lines.map { ",\"line\":\($0[index])" } ?? ""
                context.print("{\"created\":\(result.created),\"id\":\(result.id)\(line)}")
            } else {
                context.print("\(result.id)")
            }
        }
    }

    /// Splits each `KEY=VALUE` of a repeatable option; `form` is how its help writes it.
    private func keyValuePairs(_ values: [String], option: String, form: String) throws -> [String: String] {
        var pairs: [String: String] = [:]
        for value in values {
            guard let equals = value.firstIndex(of: "="), equals != value.startIndex else {
                throw UsageError("--\(option) \(value): expected \(form)", command: name)
            }
            let key = String(value[..<equals])
            guard pairs[key] == nil else {
                throw UsageError("--\(option) \(key) is given twice", command: name)
            }
            pairs[key] = String(value[value.index(after: equals)...])
        }
        return pairs
    }

    private func integer(_ value: String, option: String) throws -> Int {
        guard let number = Int(value) else { throw UsageError("--\(option) \(value): expected an integer", command: name) }
        return number
    }

    private func number(_ value: String, option: String) throws -> Double {
        guard let number = Double(value), number.isFinite else {
            throw UsageError("--\(option) \(value): expected a number such as 1.5", command: name)
        }
        return number
    }

    private func size(_ value: String, option: String) throws -> ByteSize {
        guard let size = ByteSize(parsing: value) else {
            throw UsageError("--\(option) \(value): expected a size such as 512m or 2g", command: name)
        }
        return size
    }

    private func duration(_ value: String, option: String) throws -> TimeSpan {
        guard let span = TimeSpan(parsing: value) else {
            throw UsageError("--\(option) \(value): \(CommandContext.durationMistake(value, examples: "30s, 15m or 1h30m"))", command: name)
        }
        return span
    }
}

import Foundation

// berth-bench: one subcommand per figure, each measured beside its reference
// in the same run. docs/benchmarks.md records the results and how to read them.

let usage = """
    Usage: berth-bench [options] FIGURE...

    Figures: submit, queue, scale, events, containers, wakeup, footprint, or all.
    Each prints the machine, its settings, one line per repetition and a line
    starting with "result FIGURE" per measured figure.

    Options:
      --quick              Small sizes that only prove each measurement works (for CI).
      --repetitions N      Repetitions of each measurement. Default: per figure, 3 or 5 (2 or 1 with --quick).
      --work-dir DIR       Scratch directory for databases and logs. Default: /tmp/berth-bench.
      --berth PATH         The berth binary. Default: berth next to this executable.
      --sqlite3 PATH       The sqlite3 shell used as the reference. Default: sqlite3 from PATH.
      --image IMAGE        Local image for container jobs. Default: localhost/berth-test:latest.

    The submit, queue and events figures also print a ".sqlite-alone" line: berth
    against SQLite alone, the same rows written through SQLite's C API with
    prepared statements on berth's schema and nothing else of berth running.
    It is the most the store reaches on the machine. The sqlite3 shell, the
    main reference, parses every statement again and so runs slower.

    Container figures run podman as root with pullPolicy never; set
    CONTAINERS_CONF as the tests do on machines that need it.
    """

let figures: [(name: String, run: (Bench) throws -> Void)] = [
    ("submit", SubmissionBenchmark.run),
    ("queue", QueueBenchmark.run),
    ("scale", ScaleBenchmark.run),
    ("events", EventsBenchmark.run),
    ("containers", ContainerBenchmark.run),
    ("wakeup", WakeupBenchmark.run),
    ("footprint", FootprintBenchmark.run),
]

func parseArguments(_ arguments: [String], figureNames: [String]) -> (Bench, [String])? {
    var bench = Bench()
    var selected: [String] = []
    var index = 0
    func value() -> String? {
        index += 1
        return index < arguments.count ? arguments[index] : nil
    }
    while index < arguments.count {
        let argument = arguments[index]
        switch argument {
        case "--quick": bench.quick = true
        case "--repetitions":
            guard let text = value(), let count = Int(text), count > 0 else { return nil }
            bench.repetitionsOverride = count
        case "--work-dir":
            guard let path = value() else { return nil }
            bench.workDirectory = path
        case "--berth":
            guard let path = value() else { return nil }
            bench.berth = path
        case "--sqlite3":
            guard let path = value() else { return nil }
            bench.sqlite3 = path
        case "--image":
            guard let image = value() else { return nil }
            bench.image = image
        case "-h", "--help":
            print(usage)
            exit(0)
        case "all":
            selected += figureNames
        default:
            guard figureNames.contains(argument) else { return nil }
            selected.append(argument)
        }
        index += 1
    }
    return selected.isEmpty ? nil : (bench, selected)
}

guard let (bench, selected) = parseArguments(Array(CommandLine.arguments.dropFirst()), figureNames: figures.map(\.name)) else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(64)
}

Comparison.judgesTargets = !bench.quick
print("berth-bench \(bench.quick ? "--quick " : "")\(selected.joined(separator: " "))")
print(Machine.describe(sqlite3: bench.sqlite3))
print("date: \(Date().formatted(.iso8601)), berth: \(bench.berth)")
print("CONTAINERS_CONF: \(ProcessInfo.processInfo.environment["CONTAINERS_CONF"] ?? "unset")")

var failed: [String] = []
for name in selected {
    do {
        try FileManager.default.createDirectory(atPath: bench.workDirectory, withIntermediateDirectories: true)
        try figures.first { $0.name == name }!.run(bench)
    } catch {
        print("error \(name): \(error)")
        failed.append(name)
    }
}
if !failed.isEmpty {
    FileHandle.standardError.write(Data("berth-bench: \(failed.joined(separator: ", ")) failed\n".utf8))
    exit(1)
}

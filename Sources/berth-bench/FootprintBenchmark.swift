import Foundation

/// Daemon footprint: resident memory idle and with jobs running, against the
/// `sqlite3` shell holding the same database open and podman's per-container
/// monitor (conmon).
enum FootprintBenchmark {
    static func run(_ bench: Bench) throws {
        let jobs = bench.quick ? 2 : 20
        let repetitions = bench.repetitions(full: 3, quick: 1)
        try bench.requireImage()
        bench.printHeader(
            "footprint: daemon resident memory (VmRSS), idle and with \(jobs) jobs running",
            settings: "daemon concurrency \(jobs), jobs running `sleep 600`, memory read 3 s after the state settles, "
                + "MB = 10^6 bytes, repetitions \(repetitions)")

        var idle = Comparison(figure: "footprint.idle", unit: "MB", product: "daemon idle", reference: "sqlite3 shell idle")
        var perJob = Comparison(
            figure: "footprint.per-job", unit: "MB", product: "daemon growth per running job", reference: "conmon per container")
        for _ in 1...repetitions {
            let daemon = try DaemonHarness(bench: bench, name: "footprint", concurrency: jobs)
            defer { daemon.stop() }
            pause(seconds: 3)
            let idleBytes = try daemon.residentMemory().current
            let shellBytes = try sqliteShellResidentMemory(bench, database: daemon.database)
            idle.record(product: idleBytes / 1e6, reference: shellBytes / 1e6)

            let ids = try daemon.submit(specLines: Array(repeating: bench.specLine(["sleep", "600"]), count: jobs))
            try waitUntilRunning(daemon: daemon, jobs: jobs)
            pause(seconds: 3)
            let busyBytes = try daemon.residentMemory().current
            let containers = try Subprocess.output(
                [bench.podman, "ps", "--no-trunc", "--quiet", "--filter", "label=berth.worker=bench-footprint"])
                .split(separator: "\n").map(String.init)
            let monitors = conmonResidentMemory(containerIDs: Set(containers))
            guard monitors.count == jobs else {
                throw BenchError("found \(monitors.count) conmon processes for \(jobs) running jobs")
            }
            let monitorAverage = monitors.reduce(0, +) / Double(monitors.count)
            perJob.record(product: (busyBytes - idleBytes) / Double(jobs) / 1e6, reference: monitorAverage / 1e6)
            print("  daemon with \(jobs) jobs running: \(format(busyBytes / 1e6)) MB")

            try Subprocess.timed([bench.berth, "--db", daemon.database, "cancel"] + ids.map(String.init))
            try? daemon.wait(ids, timeout: "2m")
            daemon.stop()
        }
        idle.report(target: "< 20 MB idle", met: idle.product.median < 20)
        perJob.report(target: "< 2 MB per running job", met: perJob.product.median < 2)
        bench.printFooter()
    }

    /// Waits until `jobs` attempts have started containers.
    static func waitUntilRunning(daemon: DaemonHarness, jobs: Int) throws {
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline {
            let started = try daemon.bench.count(
                "SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id AND j.attempt = a.attempt "
                    + "WHERE j.state = 'running' AND a.started_at IS NOT NULL",
                database: daemon.database)
            if started == jobs { return }
            pause(seconds: 0.2)
        }
        throw BenchError("\(jobs) jobs did not all start within 300 s")
    }

    /// Resident memory of a `sqlite3` shell that opened `database`, ran a
    /// query and waits for more input: the floor for a process that keeps
    /// berth's database open.
    static func sqliteShellResidentMemory(_ bench: Bench, database: String) throws -> Double {
        // A pipe, not a FIFO: posix_spawn returns only once the child has
        // opened its files, and opening a FIFO blocks until a writer appears.
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw BenchError("cannot create a pipe") }
        // The child must not inherit the write end, or its input never ends.
        _ = fcntl(descriptors[1], F_SETFD, FD_CLOEXEC)
        let pid = try Subprocess.spawn([bench.sqlite3, database], standardInputDescriptor: descriptors[0])
        close(descriptors[0])
        defer {
            close(descriptors[1])
            Subprocess.wait(pid)
        }
        let query = "SELECT count(*) FROM jobs; SELECT count(*) FROM events;\n"
        _ = query.withCString { write(descriptors[1], $0, strlen($0)) }
        pause(seconds: 1)
        guard let memory = Machine.residentMemory(pid: pid) else { throw BenchError("cannot read the shell's memory") }
        return memory.current
    }

    /// Resident memory of each conmon process that monitors one of `containerIDs`,
    /// found by the container id it takes after `-c`.
    static func conmonResidentMemory(containerIDs: Set<String>) -> [Double] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var sizes: [Double] = []
        for entry in entries {
            guard let pid = pid_t(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasSuffix("conmon") == true,
                  let flag = arguments.firstIndex(of: "-c"), flag + 1 < arguments.count,
                  containerIDs.contains(arguments[flag + 1]),
                  let memory = Machine.residentMemory(pid: pid)
            else { continue }
            sizes.append(memory.current)
        }
        return sizes
    }
}

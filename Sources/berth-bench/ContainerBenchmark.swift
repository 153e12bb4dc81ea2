import Foundation
import Synchronization

/// Container overhead: trivial jobs through the daemon, from submission until
/// `berth wait` returns, against `podman run --rm` of the same image and
/// command, one after another and at a concurrency of 2.
enum ContainerBenchmark {
    static func run(_ bench: Bench) throws {
        let jobs = bench.quick ? 4 : 50
        let repetitions = bench.repetitions(full: 3, quick: 1)
        try bench.requireImage()
        bench.printHeader(
            "containers: overhead of a trivial job over `podman run --rm`",
            settings: "\(jobs) jobs running `true` in \(bench.image), daemon defaults, reference `podman run --rm --network none`, "
                + "concurrency 1 and 2, repetitions \(repetitions)")

        for concurrency in [1, 2] {
            var comparison = Comparison(
                figure: "containers.concurrency-\(concurrency)", unit: "s", product: "berth submit to wait",
                reference: "podman run --rm")
            let daemon = try DaemonHarness(bench: bench, name: "containers-\(concurrency)", concurrency: concurrency)
            defer { daemon.stop() }
            for repetition in 1...repetitions {
                var berthSeconds = 0.0
                var podmanSeconds = 0.0
                let runBerth = {
                    let start = ContinuousClock.now
                    let ids = try daemon.submit(specLines: Array(repeating: bench.specLine(["true"]), count: jobs))
                    try daemon.wait(ids)
                    berthSeconds = (ContinuousClock.now - start).seconds
                }
                let runPodman = {
                    podmanSeconds = try podmanLoops(bench, jobs: jobs, loops: concurrency)
                }
                if repetition % 2 == 1 {
                    try runBerth()
                    try runPodman()
                } else {
                    try runPodman()
                    try runBerth()
                }
                comparison.record(product: berthSeconds, reference: podmanSeconds)
            }
            comparison.report(
                target: "ratio <= 1.10", met: comparison.ratios.median <= 1.10,
                extra: "berth \(format(comparison.product.median / Double(jobs) * 1000)) ms per job")
            daemon.stop()
        }
        bench.printFooter()
    }

    /// Runs `jobs` containers in `loops` parallel loops of `podman run --rm`; returns the wall time.
    static func podmanLoops(_ bench: Bench, jobs: Int, loops: Int) throws -> Double {
        let failure = Mutex<String?>(nil)
        let group = DispatchGroup()
        let start = ContinuousClock.now
        for loop in 0..<loops {
            let count = jobs / loops + (loop < jobs % loops ? 1 : 0)
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    for _ in 0..<count {
                        try Subprocess.timed([bench.podman, "run", "--rm", "--network", "none", bench.image, "true"])
                    }
                } catch {
                    failure.withLock { $0 = "\(error)" }
                }
            }.start()
        }
        group.wait()
        if let message = failure.withLock({ $0 }) { throw BenchError(message) }
        return (ContinuousClock.now - start).seconds
    }
}

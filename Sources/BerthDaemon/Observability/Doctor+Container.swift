import BerthCore
import BerthEngine
import Foundation

extension Doctor {
    /// The label on doctor's containers, so that a leftover one is recognisable.
    static let containerLabel = "berth.doctor"

    /// Creates a container of `image` with the default queue's isolation and
    /// limits, reads the limits back with inspect, runs it and removes it.
    ///
    /// The container runs `true`, so the image needs it in its PATH (busybox
    /// and most distribution images have it).
    func checkContainer(engine: ContainerEngine, image: String) async -> [DoctorCheck] {
        let queue = configuration.defaultQueue
        let nofile = ContainerUlimit(.nofile, soft: Int64(queue.nofile), hard: Int64(queue.nofile))
        let spec = ContainerRunSpec(
            name: "berth-doctor-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", image: image, command: ["true"],
            labels: [Self.containerLabel: "1"], user: queue.user, network: queue.network,
            readOnlyRootFilesystem: queue.readOnlyRoot, tmpfsSize: queue.tmpfsSize, memory: queue.memory, cpus: queue.cpus,
            pidsLimit: queue.pids, ulimits: [nofile, AttemptRunner.processCountUlimit],
            pullPolicy: ImagePullPolicy(rawValue: configuration.engine.pullPolicy.rawValue) ?? .missing,
            extraFlags: configuration.engine.extraRunFlags)

        let id: String
        do {
            id = try await engine.create(spec)
        } catch {
            return [.fail("container", "cannot create a container of \(image): \(error)",
                          fix: "check that the image exists on this host (engine.pullPolicy is \(configuration.engine.pullPolicy.rawValue)) and that the engine accepts the limits")]
        }
        var checks: [DoctorCheck] = []
        do {
            let inspection = try await engine.inspect(id)
            checks.append(checkLimits(inspection.limits, expected: queue))
        } catch {
            checks.append(.fail("container limits", "cannot inspect the container: \(error)", fix: "check the engine's own log"))
        }

        do {
            try await engine.start(id)
            let status = try await engine.wait(id, timeout: .seconds(60))
            if status == 0 {
                checks.append(.pass("container", "a container of \(image) ran as \(queue.user) with network \(queue.network) and exited 0"))
            } else {
                checks.append(.fail("container", "a container of \(image) exited with status \(status)",
                                    fix: "use an image that has true in its PATH, and check the engine's log for the start"))
            }
        } catch {
            checks.append(.fail("container", "cannot run a container of \(image): \(error)", fix: Self.fixForFailedStart(error)))
        }
        // A container left by a failed removal carries the berth.doctor label.
        try? await engine.remove(id)
        return checks
    }

    /// Returns the fix for a container that would not start. berth runs every
    /// container with `--init`, and podman refuses it when its init binary,
    /// catatonit, is missing, which happens when podman was installed without
    /// its recommended packages.
    static func fixForFailedStart(_ error: any Error) -> String {
        if "\(error)".contains("container-init binary not found") {
            return "install podman's init binary, catatonit (on Debian: apt-get install catatonit); berth starts every container with --init"
        }
        return "check the engine's log; a limit the host cannot grant (such as the nproc ulimit) stops the start"
    }

    /// Compares the limits the engine applied with the configured ones.
    func checkLimits(_ limits: ContainerInspection.Limits, expected queue: DaemonConfiguration.Queue) -> DoctorCheck {
        var wrong: [String] = []
        if limits.memory != queue.memory.bytes {
            wrong.append("memory \(limits.memory), expected \(queue.memory.bytes)")
        }
        if limits.memorySwap != queue.memory.bytes {
            wrong.append("memory plus swap \(limits.memorySwap), expected \(queue.memory.bytes)")
        }
        if limits.pidsLimit != Int64(queue.pids) {
            wrong.append("pids limit \(limits.pidsLimit.map(String.init) ?? "none"), expected \(queue.pids)")
        }
        let expectedNanoCPUs = Int64((queue.cpus * 1e9).rounded())
        if limits.nanoCPUs != expectedNanoCPUs {
            wrong.append("CPUs \(Double(limits.nanoCPUs) / 1e9), expected \(queue.cpus)")
        }
        if limits.readOnlyRootFilesystem != queue.readOnlyRoot {
            wrong.append("read-only root \(limits.readOnlyRootFilesystem), expected \(queue.readOnlyRoot)")
        }
        if limits.capabilitiesDropped.isEmpty {
            wrong.append("no capabilities dropped, expected all")
        }
        if limits.networkMode != queue.network {
            wrong.append("network \(limits.networkMode), expected \(queue.network)")
        }
        let nofile = limits.ulimits.first { $0.resource == .nofile }
        if nofile?.soft != Int64(queue.nofile) || nofile?.hard != Int64(queue.nofile) {
            wrong.append("nofile \(nofile.map { "\($0.soft):\($0.hard)" } ?? "unset"), expected \(queue.nofile)")
        }

        if wrong.isEmpty {
            return .pass("container limits", "memory \(queue.memory) without swap, \(queue.cpus) CPUs, \(queue.pids) pids, nofile \(queue.nofile), network \(queue.network), read-only root \(queue.readOnlyRoot), capabilities dropped")
        }
        return .fail("container limits", "the engine applied " + wrong.joined(separator: "; "),
                     fix: "check engine.extraRunFlags for flags that override berth's, and the engine's cgroup support (docker info, podman info)")
    }
}

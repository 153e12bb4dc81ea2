import BerthCore
import BerthEngine
import BerthStore
import Foundation

// The container an attempt runs in: limits, isolation flags and labels.

extension AttemptRunner {
    /// The job's limits with the queue's defaults filled in.
    var effectiveLimits: (memory: ByteSize, cpus: Double, pids: Int, timeout: TimeSpan, workspaceDisk: ByteSize, maxOutputBytes: ByteSize) {
        let limits = job.spec.limits
        return (limits.memory ?? settings.memory, limits.cpus ?? settings.cpus, limits.pids ?? settings.pids,
                limits.timeout ?? settings.timeout, limits.workspaceDisk ?? settings.workspaceDisk,
                limits.maxOutputBytes ?? settings.maxOutputBytes)
    }

    func makeRunSpec(name: String, preparation: AttemptPreparation) -> ContainerRunSpec {
        let limits = effectiveLimits
        var environment = job.spec.env
        environment.merge(preparation.environment) { _, fromDaemon in fromDaemon }
        return ContainerRunSpec(
            name: name,
            image: job.spec.image,
            command: preparation.command ?? job.spec.command,
            labels: [
                ContainerLabels.job: "\(lease.jobID)",
                ContainerLabels.attempt: "\(lease.attempt)",
                ContainerLabels.worker: context.workerID,
                ContainerLabels.host: context.host,
                ContainerLabels.database: context.databaseID,
                ContainerLabels.queue: job.queue,
            ],
            environment: environment,
            user: settings.user,
            network: settings.network,
            readOnlyRootFilesystem: settings.readOnlyRoot,
            tmpfsSize: settings.tmpfsSize,
            memory: limits.memory,
            cpus: limits.cpus,
            pidsLimit: limits.pids,
            ulimits: [
                ContainerUlimit(.nofile, soft: Int64(settings.nofile), hard: Int64(settings.nofile)),
                Self.processCountUlimit,
            ],
            workspace: workspace.path,
            pullPolicy: ImagePullPolicy(rawValue: context.configuration.engine.pullPolicy.rawValue) ?? .missing,
            extraFlags: context.configuration.engine.extraRunFlags + preparation.readOnlyMounts.compactMap(\.engineFlag))
    }

    /// RLIMIT_NPROC counts every process of a user id on the whole host, so it
    /// cannot bound one container; the pids limit does that. Podman, running
    /// as root, would otherwise ask for 1048576, which runc may not be allowed
    /// to set. The value here is the daemon's own hard limit, capped at
    /// `kernel.pid_max` because no host can run more processes than that and
    /// podman keeps its own limit at or below it.
    static let processCountUlimit: ContainerUlimit = {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(__RLIMIT_NPROC.rawValue), &limit)
        var value = limit.rlim_max == rlim_t.max ? Int64.max : Int64(limit.rlim_max)
        if let text = try? String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8),
           let pidMax = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            value = min(value, pidMax)
        }
        return ContainerUlimit(.nproc, soft: value, hard: value)
    }()

    func runSettingsJSON(_ spec: ContainerRunSpec) -> String {
        let limits = effectiveLimits
        let settings: [String: String] = [
            "network": spec.network,
            "user": spec.user ?? "",
            "readOnlyRoot": "\(spec.readOnlyRootFilesystem)",
            "tmpfs": spec.tmpfsSize?.description ?? "none",
            "memory": limits.memory.description,
            "memorySwap": limits.memory.description,
            "cpus": "\(limits.cpus)",
            "pids": "\(limits.pids)",
            "nofile": "\(self.settings.nofile)",
            "timeout": limits.timeout.description,
            "workspaceDisk": limits.workspaceDisk.description,
            "maxOutputBytes": limits.maxOutputBytes.description,
            "capDrop": "ALL",
            "noNewPrivileges": "true",
            "init": "true",
            "extraRunFlags": spec.extraFlags.joined(separator: " "),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: settings, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

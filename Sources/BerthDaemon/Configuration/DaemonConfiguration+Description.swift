import BerthCore
import Foundation

extension DaemonConfiguration {
    /// The effective configuration as JSON, defaults included, for `berth daemon --check-config`.
    public var effectiveDescription: String {
        func queue(_ queue: Queue) -> [String: Any] {
            [
                "concurrency": queue.concurrency, "network": queue.network, "user": queue.user,
                "memory": queue.memory.description, "cpus": queue.cpus, "pids": queue.pids,
                "timeout": queue.timeout.description, "workspaceDisk": queue.workspaceDisk.description,
                "maxOutputBytes": queue.maxOutputBytes.description, "tmpfsSize": queue.tmpfsSize.description,
                "nofile": queue.nofile, "readOnlyRoot": queue.readOnlyRoot, "stopGrace": queue.stopGrace.description,
                "retry": [
                    "maxAttempts": queue.retry.maxAttempts, "initialDelay": queue.retry.initialDelay.description,
                    "maxDelay": queue.retry.maxDelay.description, "multiplier": queue.retry.multiplier,
                    "jitter": queue.retry.jitter,
                ] as [String: Any],
            ]
        }
        let object: [String: Any] = [
            "database": [
                "path": databaseOptions.path, "synchronous": database.synchronous.rawValue,
                "busyTimeout": database.busyTimeout.description, "adminGroup": database.adminGroup ?? NSNull(),
            ] as [String: Any],
            "directories": [
                "workspaces": directories.workspaces, "checkpoints": directories.checkpoints, "runtime": directories.runtime,
                "containerLogs": directories.resolvedContainerLogs,
            ],
            "workerID": resolvedWorkerID,
            "engine": [
                "kind": engine.kind.rawValue, "path": engine.path ?? NSNull(), "callTimeout": engine.callTimeout.description,
                "extraRunFlags": engine.extraRunFlags, "passEnvironment": engine.passEnvironment,
                "pullPolicy": engine.pullPolicy.rawValue,
            ] as [String: Any],
            "concurrency": concurrency,
            "defaultQueue": queue(defaultQueue),
            "queues": queues.mapValues(queue),
            "leaseDuration": leaseDuration.description,
            "heartbeatInterval": heartbeatInterval.description,
            "pollInterval": pollInterval.description,
            "workspaceRetention": workspaceRetention.description,
            "shutdown": ["mode": shutdown.mode.rawValue, "deadline": shutdown.deadline.description],
            "secretsDirectory": secretsDirectory,
            "output": [
                "maxLineBytes": output.maxLineBytes.description, "batchLines": output.batchLines,
                "batchInterval": output.batchInterval.description,
            ] as [String: Any],
            "checkpoints": [
                "maxFileBytes": checkpoints.maxFileBytes.description, "maxJobBytes": checkpoints.maxJobBytes.description,
            ],
            "metrics": ["path": metrics.path ?? NSNull(), "interval": metrics.interval.description] as [String: Any],
            "logLevel": logLevel.rawValue,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        // Foundation prints an empty array or object over three lines; one reads better.
        return String(decoding: data, as: UTF8.self)
            .replacingOccurrences(of: #"\[\n\s*\n\s*\]"#, with: "[]", options: .regularExpression)
            .replacingOccurrences(of: #"\{\n\s*\n\s*\}"#, with: "{}", options: .regularExpression)
    }
}

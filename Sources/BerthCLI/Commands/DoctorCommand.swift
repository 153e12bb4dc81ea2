import BerthDaemon
import Dispatch
import Foundation

/// `berth doctor`: checks what breaks a worker host and prints how to fix it.
struct DoctorCommand: Command {
    let name = "doctor"
    let summary = "Check the database, directories, engine and configuration of this host."
    let usage = "[--config FILE] [--image IMAGE]"
    let details = """
        Prints one line per check, "ok" or "FAIL" with what to do. Checks that the
        configuration is valid; that the database opens read-only, passes PRAGMA
        integrity_check, has this berth's schema version and is private to its
        owner; that the workspaces, checkpoints and runtime directories exist,
        belong to the database's owner and are not writable by others; that
        secret files are private; and that the engine answers. With --image, it
        also creates a container of IMAGE with the default queue's limits, reads
        them back with inspect, runs `true` in it and removes it. Nothing is
        created or migrated. Exit status 0 only when every check passes.
        """

    let options: [OptionDefinition] = [
        .value("config", "FILE", "Configuration file (JSON5). Default: /etc/berth/berth.json5 when it exists."),
        .value("image", "IMAGE", "Also run a container of IMAGE (a local image with `true`) with the configured limits."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument \(arguments.positionals[0])", command: name)
        }

        var configurationPath = arguments.value("config")
        if configurationPath == nil, FileManager.default.fileExists(atPath: DaemonConfiguration.defaultPath) {
            configurationPath = DaemonConfiguration.defaultPath
        }
        let (configurationCheck, configuration) = Doctor.checkConfiguration(path: configurationPath)
        var checks = [configurationCheck]

        if let configuration {
            let databasePath = context.explicitDatabasePath ?? configuration.databaseOptions.path
            let doctor = Doctor(configuration: configuration, databasePath: databasePath, environment: context.environment)
            checks += Self.wait { await doctor.run(image: arguments.value("image")) }
        }

        for check in checks {
            // A detail of several lines, such as every problem of a configuration file, is indented under the first.
            let detail = check.detail.replacingOccurrences(of: "\n", with: "\n      ")
            var line = (check.passed ? "ok    " : "FAIL  ") + "\(check.name): \(detail)"
            if let fix = check.fix {
                line += "\n      fix: \(fix)"
            }
            context.print(line)
        }
        if configuration == nil {
            context.print("skip  database, directories and engine: these checks read their settings from the configuration; "
                + "fix it and run berth doctor again")
        }
        if checks.contains(where: { !$0.passed }) {
            throw PartialFailure()
        }
    }

    /// Runs `body` on the cooperative pool and blocks this thread until it returns.
    private static func wait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let finished = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Task {
            box.value = await body()
            finished.signal()
        }
        finished.wait()
        return box.value!
    }
}

/// Carries a result from a task to the thread that waits for it.
private final class ResultBox<T>: @unchecked Sendable {
    // @unchecked: written once before the semaphore is signalled, read after it is waited on.
    var value: T?
}

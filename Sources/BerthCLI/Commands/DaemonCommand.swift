import BerthCore
import BerthDaemon
import BerthStore
import Dispatch
import Foundation

/// `berth daemon`: runs the worker daemon in the foreground.
struct DaemonCommand: Command {
    let name = "daemon"
    let summary = "Run the worker daemon: claim jobs and run one container per job."
    let usage = "[--config FILE] [--check-config] [--worker-id ID]"
    let details = """
        Runs in the foreground until SIGTERM or SIGINT. The first signal stops
        claiming and drains or detaches running jobs, as the configuration says;
        a second signal exits at once. Without --config, \(DaemonConfiguration.defaultPath)
        is read when it exists, and built-in defaults are used otherwise.
        Exit status 78 means the configuration is invalid.
        """

    let options: [OptionDefinition] = [
        .value("config", "FILE", "Configuration file (JSON5). Default: \(DaemonConfiguration.defaultPath)."),
        .flag("check-config", "Validate the configuration, print the effective settings, and exit."),
        .value("worker-id", "ID", "Worker id in leases and container labels. Default: the configuration's, else the host name."),
    ]

    func run(_ arguments: ParsedArguments, context: CommandContext) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument \(arguments.positionals[0])", command: name)
        }

        var configuration: DaemonConfiguration
        var configurationFile: String? = nil
        do {
            if let path = arguments.value("config") {
                configuration = try DaemonConfiguration.load(path: path)
                configurationFile = path
            } else if FileManager.default.fileExists(atPath: DaemonConfiguration.defaultPath) {
                configuration = try DaemonConfiguration.load(path: DaemonConfiguration.defaultPath)
                configurationFile = DaemonConfiguration.defaultPath
            } else {
                configuration = DaemonConfiguration()
            }
        } catch {
            // One problem per line, each with the prefix, so every line in the journal is complete on its own.
            for line in error.lines {
                context.printError("berth daemon: invalid configuration: \(line)")
            }
            throw ExitWithStatus(status: ConfigurationError.exitStatus)
        }
        if let databasePath = context.explicitDatabasePath {
            configuration.database.path = databasePath
        }
        if let workerID = arguments.value("worker-id") {
            guard DaemonConfiguration.isValidWorkerID(workerID) else {
                throw UsageError("--worker-id \(workerID) is not valid; expected \(DaemonConfiguration.workerIDRule)", command: name)
            }
            configuration.workerID = workerID
        }

        if arguments.has("check-config") {
            if configurationFile == nil {
                context.printError(
                    "berth daemon: no configuration file at \(DaemonConfiguration.defaultPath) and no --config; these are the defaults")
            }
            context.print(configuration.effectiveDescription)
            return
        }

        let logger = Logger(minimumLevel: configuration.logLevel, sink: Logger.defaultSink(environment: context.environment))
        logger.info("configuration loaded", [
            (.configurationFile, configurationFile ?? "none"), (.workerID, configuration.resolvedWorkerID),
            (.databasePath, configuration.databaseOptions.path),
        ])
        let daemon: Daemon
        do {
            daemon = try Daemon(configuration: configuration, environment: context.environment, logger: logger)
        } catch {
            throw CommandFailure("cannot start: \(error)")
        }

        let status = Self.runUntilExit(daemon)
        if status != 0 {
            throw ExitWithStatus(status: status)
        }
    }

    /// Runs the daemon on the cooperative pool while this (main) thread waits,
    /// with SIGTERM and SIGINT delivered to the daemon instead of killing the process.
    private static func runUntilExit(_ daemon: Daemon) -> Int32 {
        // Child processes get default dispositions back from the spawn code.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let signalQueue = DispatchQueue(label: "berth.signals")
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler { Task { await daemon.signalReceived() } }
            source.resume()
            return source
        }

        let finished = DispatchSemaphore(value: 0)
        let status = ExitStatusBox()
        Task {
            status.set(await daemon.run())
            finished.signal()
        }
        finished.wait()
        sources.forEach { $0.cancel() }
        return status.get()
    }
}

/// Carries the daemon's exit status from its task to the waiting main thread.
private final class ExitStatusBox: @unchecked Sendable {
    // @unchecked: written once before the semaphore is signalled, read after it is waited on.
    private var status: Int32 = 0
    func set(_ value: Int32) { status = value }
    func get() -> Int32 { status }
}

/// Ends the command with a specific exit status after it has reported its own error.
struct ExitWithStatus: Error {
    let status: Int32
}

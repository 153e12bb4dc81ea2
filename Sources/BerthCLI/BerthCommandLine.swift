import BerthCore
import BerthStore
import Foundation

/// The `berth` command line: finds the subcommand, runs it and maps failures to exit statuses.
public enum BerthCommandLine {
    /// Exit statuses, following sysexits(3) where one fits.
    public enum ExitStatus {
        public static let success: Int32 = 0
        public static let failure: Int32 = 1
        /// EX_USAGE: a command line or an input file that cannot be used as given.
        public static let usage: Int32 = 64
        /// EX_TEMPFAIL: `berth wait --timeout` gave up while jobs were still
        /// unfinished and none had failed, so waiting again may still succeed.
        public static let timedOut: Int32 = 75
    }

    public static let version = "0.1.0"

    static let commands: [any Command] = [
        SubmitCommand(),
        ListCommand(),
        ShowCommand(),
        CancelCommand(),
        RetryCommand(),
        ApproveCommand(),
        AnswerCommand(),
        ResumeCommand(),
        CheckpointsCommand(),
        StatsCommand(),
        PruneCommand(),
        EventsCommand(),
        LogsCommand(),
        WaitCommand(),
        WorkersCommand(),
        DaemonCommand(),
        DoctorCommand(),
    ]

    /// Runs `berth` with `arguments` (without the program name) and returns the exit status.
    public static func run(arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) -> Int32 {
        let standardOutput = TextOutput(descriptor: STDOUT_FILENO)
        let standardError = TextOutput(descriptor: STDERR_FILENO)
        defer {
            standardOutput.flush()
            standardError.flush()
        }

        var arguments = arguments
        let databasePath: String?
        do {
            databasePath = try extractDatabasePath(from: &arguments)
        } catch {
            standardError.write("berth: \(error)\nRun `berth help` for usage.\n")
            return ExitStatus.usage
        }
        let context = CommandContext(
            environment: environment, databasePath: databasePath,
            standardOutput: standardOutput, standardError: standardError)

        guard let commandName = arguments.first else {
            context.print(overview)
            return ExitStatus.success
        }
        let rest = Array(arguments.dropFirst())

        switch commandName {
        case "help", "--help", "-h":
            return showHelp(for: rest.first, context: context)
        case "version", "--version":
            context.print("berth \(version) (schema \(JobStore.supportedSchemaVersion), SQLite \(SQLiteConnection.libraryVersion))")
            return ExitStatus.success
        default:
            break
        }

        guard let command = commands.first(where: { $0.name == commandName }) else {
            context.printError("berth: unknown command \(commandName)\(commandSuggestion(for: commandName))\nRun `berth help` for the list of commands.")
            return ExitStatus.usage
        }
        return execute(command, arguments: rest, context: context)
    }

    private static func execute(_ command: any Command, arguments: [String], context: CommandContext) -> Int32 {
        let optionArguments = arguments.prefix { $0 != "--" }
        if optionArguments.contains("--help") || optionArguments.contains("-h") {
            context.print(command.helpText)
            return ExitStatus.success
        }
        do {
            let parsed = try ParsedArguments(arguments, definitions: command.options, command: command.name)
            try command.run(parsed, context: context)
            return ExitStatus.success
        } catch let error as UsageError {
            for message in [error.message] + error.additionalMessages {
                context.printError("berth \(command.name): \(message)")
            }
            context.printError("Run `berth \(command.name) --help` for usage.")
            return ExitStatus.usage
        } catch is PartialFailure {
            return ExitStatus.failure
        } catch let exit as ExitWithStatus {
            return exit.status
        } catch let failure as CommandFailure {
            context.printError("berth \(command.name): \(failure)")
            return failure.status
        } catch {
            context.printError("berth \(command.name): \(error)")
            return ExitStatus.failure
        }
    }

    /// Removes a global `--db PATH` (or `--db=PATH`) that appears before `--`.
    private static func extractDatabasePath(from arguments: inout [String]) throws(UsageError) -> String? {
        var path: String? = nil
        var index = 0
        while index < arguments.count, arguments[index] != "--" {
            let argument = arguments[index]
            if argument == "--db" {
                guard index + 1 < arguments.count else { throw UsageError("--db needs a value (PATH)") }
                path = arguments[index + 1]
                arguments.removeSubrange(index...(index + 1))
            } else if argument.hasPrefix("--db=") {
                path = String(argument.dropFirst("--db=".count))
                arguments.remove(at: index)
            } else {
                index += 1
            }
        }
        if let path, path.isEmpty {
            throw UsageError("--db needs a non-empty path")
        }
        return path
    }

    /// Returns "; did you mean NAME?" for the command closest to a mistyped one, or nothing.
    private static func commandSuggestion(for unknown: String) -> String {
        KeySuggestion.closest(to: unknown, among: commands.map(\.name) + ["help", "version"]).map { "; did you mean \($0)?" } ?? ""
    }

    private static func showHelp(for commandName: String?, context: CommandContext) -> Int32 {
        guard let commandName else {
            context.print(overview)
            return ExitStatus.success
        }
        guard let command = commands.first(where: { $0.name == commandName }) else {
            context.printError("berth help: unknown command \(commandName)\(commandSuggestion(for: commandName))\nRun `berth help` for the list of commands.")
            return ExitStatus.usage
        }
        context.print(command.helpText)
        return ExitStatus.success
    }

    static var overview: String {
        var text = """
            berth: a job queue that runs one sandboxed container per job.

            Usage: berth [--db PATH] COMMAND [options]

            Commands:

            """
        // `help` and `version` are not `Command`s but share the column.
        let entries = commands.map { ($0.name, $0.summary) } + [
            ("help", "Show help for a command: berth help COMMAND."),
            ("version", "Show the version of berth and of its database schema."),
        ]
        let width = (entries.map(\.0.count).max() ?? 0) + 4
        for (name, summary) in entries {
            text += "  " + name + String(repeating: " ", count: width - name.count) + summary + "\n"
        }
        text += """

            Every command accepts --help. Commands that print records accept --json for
            scripts (one JSON object per line for lists). Exit status: 0 on success,
            1 on a failure such as an unknown job id, 64 on a usage error or an invalid
            job spec, 75 when `berth wait --timeout` gives up on unfinished jobs, 78
            when `berth daemon` finds its configuration invalid.
            The database is --db PATH, else $BERTH_DB, else /var/lib/berth/berth.db for
            root or ~/.local/state/berth/berth.db (under $XDG_STATE_HOME when set).
            """
        return text
    }
}

/// Thrown after a command has already reported its individual errors, such as
/// `berth cancel` with one unknown id among several; only sets exit status 1.
struct PartialFailure: Error {}

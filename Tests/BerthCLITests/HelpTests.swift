import Foundation
import Testing

@Suite("Help")
struct HelpTests {
    /// Each command and the options its `--help` must list, besides `--db` and `--help`.
    static let optionsByCommand: [String: [String]] = [
        "submit": [
            "image", "queue", "priority", "env", "secret", "memory", "cpus", "pids", "timeout", "workspace-disk",
            "max-output", "max-attempts", "retry-delay", "max-retry-delay", "idempotency-key", "run-at", "label",
            "hold", "spec", "file", "json",
        ],
        "ls": ["state", "queue", "label", "limit", "json"],
        "show": ["json"],
        "cancel": [],
        "retry": [],
        "approve": [],
        "stats": ["json"],
        "prune": ["older-than", "batch-size", "json"],
    ]

    @Test("help command prints overview", arguments: [["help"], ["--help"], ["-h"], []])
    func overview(arguments: [String]) throws {
        let sandbox = try Sandbox()
        let result = try sandbox.run(arguments)

        #expect(result.status == 0)
        #expect(result.standardError == "")
        #expect(result.standardOutput.hasPrefix("berth: a job queue"))
        for command in Self.optionsByCommand.keys.sorted() + ["help", "version"] {
            #expect(result.lines.contains { $0.hasPrefix("  \(command) ") }, "\(command) is not listed")
        }
    }

    @Test("overview aligns command summaries")
    func overviewColumns() throws {
        let result = try Sandbox().run(["help"])
        let commandLines = result.lines.filter { $0.hasPrefix("  ") }
        let summaryColumns = Set(commandLines.map { line in
            let afterName = line.dropFirst(2).drop { $0 != " " }
            return line.count - afterName.drop { $0 == " " }.count
        })

        #expect(commandLines.count >= 10)
        #expect(summaryColumns.count == 1, "summaries start at columns \(summaryColumns.sorted())")
    }

    @Test("command help goes to stdout", arguments: optionsByCommand.keys.sorted())
    func commandHelp(command: String) throws {
        let sandbox = try Sandbox()
        let viaOption = try sandbox.run([command, "--help"])
        let viaHelp = try sandbox.run(["help", command])

        #expect(viaOption.status == 0)
        #expect(viaOption.standardError == "")
        #expect(viaOption.standardOutput.hasPrefix("Usage: berth \(command) "))
        #expect(viaHelp.status == 0)
        #expect(viaHelp.standardOutput == viaOption.standardOutput)
    }

    @Test("command help lists every option", arguments: optionsByCommand.keys.sorted())
    func commandOptions(command: String) throws {
        let result = try Sandbox().run([command, "--help"])
        let optionLines = result.lines.filter { $0.hasPrefix("  --") }
        let listed = optionLines.map { $0.dropFirst(4).prefix { $0 != " " } }.map(String.init)

        #expect(listed == (Self.optionsByCommand[command] ?? []) + ["db", "help"])
        for line in optionLines {
            #expect(line.split(separator: " ").count > 2, "option without help text: \(line)")
        }
    }

    @Test("every listed command has help")
    func everyListedCommand() throws {
        let sandbox = try Sandbox()
        let overview = try sandbox.run(["help"])
        let names = overview.lines.filter { $0.hasPrefix("  ") }
            .map { String($0.dropFirst(2).prefix { $0 != " " }) }
            .filter { $0 != "help" && $0 != "version" }

        #expect(Set(Self.optionsByCommand.keys).isSubset(of: names))
        for name in names {
            let help = try sandbox.run([name, "--help"])
            let synopsis = help.lines.prefix { !$0.isEmpty }.joined(separator: " ")
            let synopsisOptions = synopsis.split(separator: " ")
                .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]|")) }
                .filter { $0.hasPrefix("--") && $0.count > 2 }
            let listed = help.lines.filter { $0.hasPrefix("  --") }.map { String($0.dropFirst(2).prefix { $0 != " " }) }

            #expect(help.status == 0, "berth \(name) --help")
            #expect(synopsis.hasPrefix("Usage: berth \(name)"))
            #expect(listed.suffix(2) == ["--db", "--help"], "berth \(name) --help")
            for option in synopsisOptions {
                #expect(listed.contains(option), "berth \(name) --help shows \(option) in its usage but does not list it")
            }
        }
    }

    @Test("help after -- is a job argument")
    func helpAfterDoubleDash() throws {
        let sandbox = try Sandbox()
        let result = try sandbox.run(["submit", "--image", "alpine:3.20", "--", "ls", "--help"])

        #expect(result.status == 0)
        #expect(result.lines == ["1"])
    }

    @Test("cancel help text literal")
    func cancelHelpLiteral() throws {
        let result = try Sandbox().run(["cancel", "--help"])

        #expect(result.standardOutput == """
            Usage: berth cancel ID...

            Cancel jobs; a running job's worker stops it at once on this host, or at its next poll on another host.

            Options:
              --db PATH  Job database file. Defaults to $BERTH_DB, then /var/lib/berth/berth.db for root or ~/.local/state/berth/berth.db.
              --help     Show this help.


            """)
    }

    @Test("ls help text literal")
    func listHelpLiteral() throws {
        let result = try Sandbox().run(["ls", "--help"])

        #expect(result.standardOutput == """
            Usage: berth ls [--state STATE] [--queue NAME] [--label KEY=VALUE] [--limit N] [--json]

            List jobs, newest first.

            States: held, queued, running, waiting, failed, succeeded, dead, cancelled.

            Options:
              --state STATE      Only jobs in STATE; a comma-separated list is accepted. Repeatable.
              --queue NAME       Only jobs of queue NAME.
              --label KEY=VALUE  Only jobs with this label. Repeatable.
              --limit N          Print at most N jobs, from 1 to 100000. Default: 50.
              --json             Print one JSON object per job.
              --db PATH          Job database file. Defaults to $BERTH_DB, then /var/lib/berth/berth.db for root or ~/.local/state/berth/berth.db.
              --help             Show this help.


            """)
    }

    @Test("version names schema")
    func version() throws {
        let result = try Sandbox().run(["version"])

        #expect(result.status == 0)
        #expect(result.standardOutput.hasPrefix("berth "))
        #expect(result.standardOutput.contains("(schema "))
    }
}

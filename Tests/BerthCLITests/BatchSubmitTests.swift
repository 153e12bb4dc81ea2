import Foundation
import Testing

@Suite("Batch submit")
struct BatchSubmitTests {
    static func specLine(_ tag: String, extra: String = "") -> String {
        "{\"image\":\"alpine:3.20\",\"command\":[\"echo\",\"\(tag)\"]\(extra)}"
    }

    /// A batch path that names no readable file gets the reason, and nothing is stored.
    @Test("unreadable batch paths explained")
    func unreadableBatchPaths() throws {
        let sandbox = try Sandbox()
        let missing = sandbox.directory.appendingPathComponent("missing.jsonl").path

        let directoryResult = try sandbox.run(["submit", "--file", sandbox.directory.path])
        let missingResult = try sandbox.run(["submit", "--file", missing])

        #expect(directoryResult.status == 1)
        #expect(directoryResult.standardError.contains("\(sandbox.directory.path): it is a directory; give a file with one JSON job spec per line"))
        #expect(missingResult.status == 1)
        #expect(missingResult.standardError.contains("\(missing): no such file; check the path"))
        #expect(try sandbox.listJobs().isEmpty)
    }

    @Test("bad lines reported by number")
    func badLinesReported() throws {
        let sandbox = try Sandbox()
        let lines = [
            Self.specLine("ok-1"),
            "{\"image\":\"alpine:3.20\"}",
            "",
            Self.specLine("ok-2"),
            "not json at all",
            "{\"image\":\"-v\",\"command\":[\"true\"]}",
            Self.specLine("ok-3", extra: ",\"memroy\":\"1g\""),
            Self.specLine("ok-4"),
        ]
        let path = try sandbox.write(lines.joined(separator: "\n") + "\n", to: "bad.jsonl")
        let result = try sandbox.run(["submit", "--file", path])
        let errorLines = result.standardError.split(separator: "\n").map(String.init)

        #expect(result.status == 64)
        #expect(result.standardOutput == "")
        #expect(errorLines.count == 5)
        #expect(errorLines.first { $0.hasPrefix("\(path):2: ") }?.contains("command") == true)
        #expect(errorLines.first { $0.hasPrefix("\(path):5: ") }?.contains("JSON") == true)
        #expect(errorLines.first { $0.hasPrefix("\(path):6: ") }?.contains("-v") == true)
        #expect(errorLines.first { $0.hasPrefix("\(path):7: ") }?.contains("memroy") == true)
        #expect(errorLines.last?.contains("4 of 7 lines are invalid; nothing was submitted") == true)
        #expect(try sandbox.listJobs().isEmpty)
    }

    /// A batch large enough to be read in several slices at once keeps the
    /// file's order in its ids, its line numbers and its errors.
    @Test("large batch keeps line order")
    func largeBatchKeepsLineOrder() throws {
        let sandbox = try Sandbox()
        let count = 4_500
        var lines = (1...count).map { Self.specLine("job-\($0)") }
        lines[1_999] = ""
        let path = try sandbox.write(lines.joined(separator: "\n") + "\n", to: "large.jsonl")

        let result = try sandbox.run(["submit", "--file", path, "--json"])
        let printedLines = result.standardOutput.split(separator: "\n").compactMap { line in
            line.split(separator: ",").last.flatMap { Int($0.dropFirst("\"line\":".count).dropLast()) }
        }

        #expect(result.status == 0, "\(result)")
        #expect(printedLines == (1...count).filter { $0 != 2_000 })
        #expect(result.standardOutput.hasPrefix("{\"created\":true,\"id\":1,\"line\":1}\n"))
        #expect(result.standardOutput.hasSuffix("{\"created\":true,\"id\":\(count - 1),\"line\":\(count)}\n"))

        lines[9] = "{broken"
        lines[3_999] = "{broken"
        let invalidPath = try sandbox.write(lines.joined(separator: "\n") + "\n", to: "large-invalid.jsonl")
        let invalid = try sandbox.run(["submit", "--file", invalidPath])
        let errorLines = invalid.standardError.split(separator: "\n").map(String.init)

        #expect(invalid.status == 64)
        #expect(errorLines.count == 3)
        #expect(errorLines.first?.hasPrefix("\(invalidPath):10: ") == true)
        #expect(errorLines.dropFirst().first?.hasPrefix("\(invalidPath):4000: ") == true)
        #expect(try sandbox.listJobs().count == count - 1)
    }

    /// Into a database that exists, the first parts of a large file are stored
    /// while later ones are still read. The ids still follow the file's order,
    /// a key repeated in a later part gets the first part's id, and an invalid
    /// line in a later part still stores nothing.
    @Test("existing database stores parts in order")
    func existingDatabaseStoresParts() throws {
        let sandbox = try Sandbox()
        let first = try sandbox.submit()
        let count = 6_500
        var lines = (1...count).map { Self.specLine("job-\($0)") }
        lines[2_999] = Self.specLine("keyed-first", extra: #","idempotencyKey":"across-parts""#)
        lines[5_999] = Self.specLine("keyed-again", extra: #","idempotencyKey":"across-parts""#)
        let path = try sandbox.write(lines.joined(separator: "\n") + "\n", to: "parts.jsonl")

        let result = try sandbox.run(["submit", "--file", path])
        let ids = result.lines.compactMap { Int64($0) }

        #expect(result.status == 0, "\(result)")
        #expect(ids.count == count)
        #expect(ids.first == first + 1)
        #expect(ids[5_999] == ids[2_999])
        #expect(Array(ids[0..<5_999]) == Array(first + 1...first + 5_999))
        #expect(Array(ids[6_000...]) == Array(first + 6_000...first + Int64(count) - 1))
        #expect(try sandbox.listJobs(["--limit", "100000"]).count == count)

        var invalidLines = lines.map { $0.replacingOccurrences(of: "job-", with: "other-") }
        invalidLines[2_499] = "{broken"
        invalidLines[6_000] = #"{"image":"alpine:3.20"}"#
        let invalidPath = try sandbox.write(invalidLines.joined(separator: "\n") + "\n", to: "parts-invalid.jsonl")
        let invalid = try sandbox.run(["submit", "--file", invalidPath])
        let errorLines = invalid.standardError.split(separator: "\n").map(String.init)

        #expect(invalid.status == 64)
        #expect(errorLines.count == 3)
        #expect(errorLines.first?.hasPrefix("\(invalidPath):2500: ") == true)
        #expect(errorLines.dropFirst().first?.hasPrefix("\(invalidPath):6001: ") == true)
        #expect(try sandbox.listJobs(["--limit", "100000"]).count == count)
    }

    /// A spec with several invalid fields gets one line for each, from
    /// `--spec` and from a batch file, where the lines are still counted once.
    @Test("every invalid field reported")
    func everyInvalidFieldReported() throws {
        let sandbox = try Sandbox()
        let invalid = #"{"image":"alpine:3.20","command":["true"],"priority":5000,"limits":{"memory":"1k"}}"#
        let path = try sandbox.write(Self.specLine("ok") + "\n" + invalid + "\n", to: "fields.jsonl")

        let fromSpec = try sandbox.run(["submit", "--spec", invalid])
        let fromFile = try sandbox.run(["submit", "--file", path])
        let specLines = fromSpec.standardError.split(separator: "\n").map(String.init)
        let fileLines = fromFile.standardError.split(separator: "\n").map(String.init)

        #expect(fromSpec.status == 64)
        #expect(specLines.count == 3)
        #expect(specLines.first?.hasPrefix("berth submit: invalid priority 5000: ") == true)
        #expect(specLines.dropFirst().first?.hasPrefix(#"berth submit: invalid limits.memory "1k": "#) == true)
        #expect(fromFile.status == 64)
        #expect(fileLines.count == 3)
        #expect(fileLines.first?.hasPrefix("\(path):2: invalid priority 5000: ") == true)
        #expect(fileLines.dropFirst().first?.hasPrefix(#"\#(path):2: invalid limits.memory "1k": "#) == true)
        #expect(fileLines.last?.contains("1 of 2 lines is invalid") == true)

        let fromOptions = try sandbox.run(["submit", "--image", "alpine:3.20", "--memory", "512", "--max-attempts", "0", "--", "true"])
        let optionLines = fromOptions.standardError.split(separator: "\n").map(String.init)

        #expect(fromOptions.status == 64)
        #expect(optionLines.count == 3)
        #expect(optionLines.first?.hasPrefix("berth submit: --memory 512: out of range") == true)
        #expect(optionLines.dropFirst().first?.hasPrefix("berth submit: --max-attempts 0: out of range") == true)
        #expect(!FileManager.default.fileExists(atPath: sandbox.databasePath))
    }

    /// A database that fails before every line was read does not hide an
    /// invalid line: the line is reported with the usage status, as it is for
    /// a database that works.
    @Test("invalid line wins over database error")
    func invalidLineWinsOverDatabaseError() throws {
        let sandbox = try Sandbox()
        let notDatabase = try sandbox.write(String(repeating: "not an SQLite database\n", count: 400), to: "not.db")
        var lines = (1...4_500).map { Self.specLine("job-\($0)") }
        lines[4_399] = "{broken"
        let path = try sandbox.write(lines.joined(separator: "\n") + "\n", to: "late-invalid.jsonl")

        let invalid = try sandbox.run(["submit", "--file", path], database: notDatabase)
        lines[4_399] = Self.specLine("job-4400")
        let validPath = try sandbox.write(lines.joined(separator: "\n") + "\n", to: "late-valid.jsonl")
        let valid = try sandbox.run(["submit", "--file", validPath], database: notDatabase)

        #expect(invalid.status == 64)
        #expect(invalid.standardError.hasPrefix("\(path):4400: "), "\(invalid.standardError)")
        #expect(valid.status == 1)
        #expect(valid.standardError.contains("not an SQLite database"), "\(valid.standardError)")
    }

    /// A new database is created only for a valid file, also when the
    /// invalid line comes after many valid ones.
    @Test("late invalid line creates no database")
    func lateInvalidLineCreatesNoDatabase() throws {
        let sandbox = try Sandbox()
        var lines = (1...4_500).map { Self.specLine("job-\($0)") }
        lines[4_399] = "{broken"
        let path = try sandbox.write(lines.joined(separator: "\n") + "\n", to: "late.jsonl")

        let result = try sandbox.run(["submit", "--file", path])

        #expect(result.status == 64)
        #expect(result.standardError.hasPrefix("\(path):4400: "), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.databasePath))
    }

    @Test("hold applies to --spec and --file")
    func holdAppliesToSpecAndFile() throws {
        let sandbox = try Sandbox()
        let path = try sandbox.write(Self.specLine("two") + "\n" + Self.specLine("three") + "\n", to: "held.jsonl")

        let fromSpec = try sandbox.run(["submit", "--hold", "--spec", Self.specLine("one")])
        let fromFile = try sandbox.run(["submit", "--hold", "--file", path])
        let released = try sandbox.run(["submit", "--spec", Self.specLine("four")])

        #expect(fromSpec.status == 0, "\(fromSpec)")
        #expect(fromFile.status == 0, "\(fromFile)")
        #expect(released.status == 0, "\(released)")
        #expect(try sandbox.listJobs(["--state", "held"]).count == 3)
        #expect(try sandbox.listJobs(["--state", "queued"]).count == 1)
    }

    @Test("other options with --spec are named")
    func otherOptionsWithSpecNamed() throws {
        let sandbox = try Sandbox()

        let result = try sandbox.run(["submit", "--spec", Self.specLine("one"), "--memory", "1g", "--queue", "fast"])

        #expect(result.status == 64)
        #expect(result.standardError.contains("--spec cannot be combined with --memory, --queue; put those fields into the spec instead"))
    }

    @Test("invalid spec exits 64 from --spec and --file")
    func invalidSpecSameStatus() throws {
        let sandbox = try Sandbox()
        let earlierJob = try sandbox.submit()
        let invalid = Self.specLine("bad", extra: ",\"limits\":{\"memory\":\"2x\"}")
        let path = try sandbox.write(Self.specLine("ok") + "\n" + invalid + "\n", to: "invalid.jsonl")

        let fromSpec = try sandbox.run(["submit", "--spec", invalid])
        let fromFile = try sandbox.run(["submit", "--file", path])
        let fromStandardInput = try sandbox.run(["submit", "--file", "-"], input: invalid + "\n")
        let fileLine = fromFile.standardError.split(separator: "\n").first.map(String.init) ?? ""

        #expect(fromSpec.status == 64)
        #expect(fromFile.status == 64)
        #expect(fromStandardInput.status == 64)
        #expect(fromSpec.standardError.contains("limits.memory"))
        #expect(fromSpec.standardError.contains("\"2x\""))
        #expect(fileLine.hasPrefix("\(path):2: "))
        #expect(fileLine.contains("limits.memory"))
        #expect(fileLine.contains("\"2x\""))
        #expect(fileLine.contains("such as 512m"))
        #expect(fromStandardInput.standardError.hasPrefix("stdin:1: "))
        #expect(try sandbox.listJobs().map(\.id) == [earlierJob])
    }

    @Test("many bad lines cut at 100")
    func manyBadLines() throws {
        let sandbox = try Sandbox()
        let lines = Array(repeating: "{\"image\":\"alpine:3.20\"}", count: 150)
        let path = try sandbox.write(lines.joined(separator: "\n"), to: "many.jsonl")
        let result = try sandbox.run(["submit", "--file", path])
        let errorLines = result.standardError.split(separator: "\n").map(String.init)

        #expect(result.status == 64)
        #expect(errorLines.count == 102)
        #expect(errorLines[99].hasPrefix("\(path):100: "))
        #expect(errorLines[100] == "… and 50 more invalid lines")
        #expect(errorLines[101].contains("150 of 150 lines are invalid"))
    }

    @Test("valid file stored in order")
    func validFileInOrder() throws {
        let sandbox = try Sandbox()
        let tags = (1...20).map { "job-\($0)" }
        let path = try sandbox.write(tags.map { Self.specLine($0) }.joined(separator: "\n"), to: "good.jsonl")
        let result = try sandbox.run(["submit", "--file", path])
        let jobs = try sandbox.listJobs()

        #expect(result.status == 0)
        #expect(result.lines == (1...20).map { "\($0)" })
        #expect(jobs.map(\.id) == (1...20).reversed().map { Int64($0) })
        #expect(jobs.reversed().map { $0.spec["command"] } == tags.map { .array([.string("echo"), .string($0)]) })
    }

    @Test("blank lines skipped")
    func blankLinesSkipped() throws {
        let sandbox = try Sandbox()
        let text = "\n" + Self.specLine("a") + "\r\n   \n\t\n" + Self.specLine("b") + "\n\n"
        let path = try sandbox.write(text, to: "blanks.jsonl")
        let result = try sandbox.run(["submit", "--json", "--file", path])

        #expect(result.status == 0)
        #expect(result.lines == ["{\"created\":true,\"id\":1,\"line\":2}", "{\"created\":true,\"id\":2,\"line\":5}"])
    }

    @Test("blank file rejected")
    func blankFileRejected() throws {
        let sandbox = try Sandbox()
        let path = try sandbox.write("\n  \n", to: "empty.jsonl")
        let result = try sandbox.run(["submit", "--file", path])

        #expect(result.status == 64)
        #expect(result.standardError.contains("no job specs"))
    }

    @Test("dash reads standard input")
    func standardInput() throws {
        let sandbox = try Sandbox()
        let input = [Self.specLine("from-stdin-1"), Self.specLine("from-stdin-2")].joined(separator: "\n") + "\n"
        let result = try sandbox.run(["submit", "--file", "-"], input: input)

        #expect(result.status == 0)
        #expect(result.lines == ["1", "2"])
        #expect(try sandbox.listJobs().count == 2)
    }

    @Test("bad standard input named stdin")
    func badStandardInput() throws {
        let sandbox = try Sandbox()
        let result = try sandbox.run(["submit", "--file", "-"], input: Self.specLine("ok") + "\n{}\n")

        #expect(result.status == 64)
        #expect(result.standardError.hasPrefix("stdin:2: "))
        #expect(try sandbox.listJobs().isEmpty)
    }

    @Test("key repeated inside a file")
    func keyRepeatedInFile() throws {
        let sandbox = try Sandbox()
        let keyed = Self.specLine("keyed", extra: ",\"idempotencyKey\":\"nightly-2030-01-01\"")
        let path = try sandbox.write([keyed, Self.specLine("plain"), keyed].joined(separator: "\n"), to: "keys.jsonl")
        let result = try sandbox.run(["submit", "--json", "--file", path])

        #expect(result.status == 0)
        #expect(result.lines == [
            "{\"created\":true,\"id\":1,\"line\":1}",
            "{\"created\":true,\"id\":2,\"line\":2}",
            "{\"created\":false,\"id\":1,\"line\":3}",
        ])
        #expect(try sandbox.listJobs().count == 2)
    }

    @Test("key repeated across files")
    func keyRepeatedAcrossFiles() throws {
        let sandbox = try Sandbox()
        let keyed = Self.specLine("keyed", extra: ",\"idempotencyKey\":\"shared\"")
        let first = try sandbox.write([Self.specLine("a"), keyed].joined(separator: "\n"), to: "first.jsonl")
        let second = try sandbox.write([keyed, Self.specLine("b")].joined(separator: "\n"), to: "second.jsonl")

        let firstResult = try sandbox.run(["submit", "--file", first])
        let secondResult = try sandbox.run(["submit", "--file", second])
        let single = try sandbox.run(["submit", "--idempotency-key", "shared", "--image", "alpine:3.20", "--", "true"])

        #expect(firstResult.lines == ["1", "2"])
        // A repeated key uses up no job id.
        #expect(secondResult.lines == ["2", "3"])
        #expect(single.lines == ["2"])
        #expect(try sandbox.listJobs().count == 3)
    }
}

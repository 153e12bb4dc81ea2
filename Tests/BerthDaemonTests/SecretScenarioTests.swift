import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Synchronization
import Testing

extension PodmanScenarios {
    @Suite struct SecretScenarios {
        /// The job proves it received the value by printing its SHA-256, so the
        /// value itself never has a reason to be stored anywhere.
        @Test func secretReachesJobAndNothingElse() async throws {
            let value = "s3cret"
            let sandbox = try DaemonSandbox()
            let daemon = try sandbox.startDaemon(environment: ["TOKEN": value])
            let argvScan = ArgumentScan(needle: value)
            let scanner = Task { await argvScan.run() }
            defer { scanner.cancel() }

            let id = try await sandbox.submit(
                ["sh", "-c", #"printf %s "$TOKEN" | sha256sum; echo "length ${#TOKEN}"; sleep 1"#],
                options: ["--secret", "TOKEN"])
            let job = try await sandbox.waitForState(id, [.succeeded, .dead, .failed])
            scanner.cancel()
            await scanner.value
            #expect(job.state == .succeeded)

            let expectedHash = try await SpawnedProcess.run(
                "/bin/sh", ["-c", #"printf %s "$VALUE" | sha256sum"#], environment: sandbox.environment.merging(["VALUE": value]) { $1 })
            let events = try sandbox.events(id).map(\.payload)
            #expect(events == [expectedHash.standardOutput.trimmingCharacters(in: .newlines), "length 6"])

            let showResult = try await sandbox.berth(["show", "--json", "\(id)"])
            #expect(showResult.status == 0)
            #expect(showResult.standardOutput.contains(#""secrets":["TOKEN"]"#), "the name is stored: \(showResult.standardOutput)")
            #expect(!showResult.standardOutput.contains(value))
            let printedEvents = try await sandbox.berth(["events", "--json", "\(id)"])
            #expect(!printedEvents.standardOutput.contains(value))
            #expect(try sandbox.events(id).allSatisfy { !$0.payload.contains(value) })
            #expect(try sandbox.logs(id).allSatisfy { !$0.line.contains(value) })
            let attempt = try #require(try sandbox.attempts(id).first)
            #expect(attempt.runSettings?.contains(value) == false)
            #expect(!daemon.log.contains(value))

            for suffix in ["", "-wal"] {
                let path = sandbox.databasePath + suffix
                guard let bytes = FileManager.default.contents(atPath: path) else { continue }
                #expect(bytes.range(of: Data(value.utf8)) == nil, "\(path) contains the value")
            }

            #expect(argvScan.scans > 10, "the process scan ran while the job ran")
            #expect(argvScan.matches.isEmpty, "argv with the value: \(argvScan.matches)")
        }
    }
}

/// Reads the argv of every process again and again, and keeps each one that contains `needle`.
final class ArgumentScan: Sendable {
    let needle: String
    private let state = Mutex<(scans: Int, matches: [String])>((0, []))

    init(needle: String) {
        self.needle = needle
    }

    var scans: Int { state.withLock { $0.scans } }
    var matches: [String] { state.withLock { $0.matches } }

    /// Scans every 5 ms until the task is cancelled.
    func run() async {
        let needleBytes = Data(needle.utf8)
        while !Task.isCancelled {
            var found: [String] = []
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
                guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                      data.range(of: needleBytes) != nil
                else { continue }
                found.append(String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self))
            }
            state.withLock {
                $0.scans += 1
                $0.matches += found
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

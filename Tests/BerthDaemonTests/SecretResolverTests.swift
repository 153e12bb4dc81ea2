import Foundation
import Testing

@testable import BerthDaemon

@Suite final class SecretResolverTests {
    private let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-secrets-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func writeSecret(_ name: String, _ contents: String, mode: Int = 0o600) throws {
        let path = directory + "/" + name
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    private func missingReason(_ name: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try SecretResolver(directory: directory, environment: environment).resolve([name])
            return nil
        } catch let error as SecretResolver.MissingSecret {
            #expect(error.name == name)
            return error.description
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func fileWinsOverEnvironment() throws {
        try writeSecret("TOKEN", "from-file\n")
        let values = try SecretResolver(directory: directory, environment: ["TOKEN": "from-environment"]).resolve(["TOKEN"])
        #expect(values == ["TOKEN": "from-file"], "one trailing newline is not part of the value")
    }

    @Test func environmentWhenNoFile() throws {
        let values = try SecretResolver(directory: directory, environment: ["TOKEN": "s3cret", "OTHER": "x"]).resolve(["TOKEN"])
        #expect(values == ["TOKEN": "s3cret"])
    }

    @Test func missingNamesBothPlaces() throws {
        let description = try #require(missingReason("TOKEN"))
        #expect(description.contains("no file \(directory)/TOKEN"))
        #expect(description.contains("no variable TOKEN in the daemon's environment"))
    }

    @Test func fileReadableByOthersIsRejected() throws {
        try writeSecret("TOKEN", "s3cret", mode: 0o644)
        let description = try #require(missingReason("TOKEN", environment: ["TOKEN": "fallback"]))
        #expect(description.contains("readable by other users"))
        #expect(!description.contains("s3cret"))
    }

    @Test func oversizedFileIsRejected() throws {
        try writeSecret("TOKEN", String(repeating: "x", count: SecretResolver.maximumSize + 1))
        let description = try #require(missingReason("TOKEN"))
        #expect(description.contains("larger than \(SecretResolver.maximumSize) bytes"))
    }

    @Test func directoryInPlaceOfFileIsRejected() throws {
        try FileManager.default.createDirectory(atPath: directory + "/TOKEN", withIntermediateDirectories: false)
        let description = try #require(missingReason("TOKEN"))
        #expect(description.contains("is not a regular file"))
    }
}

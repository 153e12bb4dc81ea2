import BerthCore
import BerthTestSupport
import Dispatch
import Foundation
import Testing

@testable import BerthDaemon
@testable import BerthStore

/// Capture and restore on real files in a temporary directory, without containers.
final class CheckpointCaptureTests {
    let root: String
    let workspace: String
    let store: String
    let logger = Logger(minimumLevel: .error)

    init() throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/berth-capture-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        root = String(cString: created)
        workspace = root + "/workspace"
        store = root + "/store/1"
        try FileManager.default.createDirectory(atPath: workspace + "/checkpoints", withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    var checkpoints: String { workspace + "/checkpoints" }

    func capturer(
        limits: CaptureLimits = CaptureLimits(maxFileBytes: 1 << 20, maxJobBytes: 8 << 20), existing: [CheckpointRecord] = [],
        baseline: [String: FileIdentity]? = nil, policy: any CheckpointFilePolicy = GenericAdapter(),
        directory: [String] = ["checkpoints"]
    ) -> CheckpointCapturer {
        CheckpointCapturer(
            workspace: workspace, directory: directory, storeDirectory: store, limits: limits, policy: policy,
            logger: logger, existing: existing, baseline: baseline)
    }

    /// Runs one scan on another thread, failing the test instead of hanging when it blocks.
    func scan(_ capturer: inout CheckpointCapturer, sourceLocation: SourceLocation = #_sourceLocation) throws -> CaptureResult {
        let box = ScanBox(capturer)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            box.run()
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success else {
            Issue.record("the scan blocked for more than 10 seconds", sourceLocation: sourceLocation)
            throw TestFailure("the scan blocked")
        }
        capturer = box.capturer
        return box.result
    }

    func write(_ text: String, to name: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: checkpoints + "/" + name))
    }

    // MARK: Capture

    @Test func regularFileStored() throws {
        try write(#"{"step":1}"#, to: "step-1.json")
        var capturer = capturer()

        let result = try scan(&capturer)

        let row = try #require(result.checkpoints.first)
        #expect(result.checkpoints.count == 1)
        #expect(row.name == "step-1.json")
        #expect(row.valid)
        #expect(row.size == 10)
        #expect(row.sha256 == SHA256.hex(Array(#"{"step":1}"#.utf8)))
        #expect(row.storedPath == store + "/" + (row.sha256 ?? ""))
        #expect(try String(contentsOfFile: row.storedPath ?? "", encoding: .utf8) == #"{"step":1}"#)
        var status = stat()
        #expect(stat(row.storedPath ?? "", &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        #expect(result.createdFiles == [row.storedPath ?? ""])
    }

    @Test func unchangedFileReadOnce() throws {
        try write("a", to: "state")
        var capturer = capturer()

        let first = try scan(&capturer)
        let second = try scan(&capturer)
        try write("b", to: "state")
        let third = try scan(&capturer)

        #expect(first.checkpoints.count == 1)
        #expect(second.checkpoints.isEmpty)
        #expect(third.checkpoints.map(\.sha256) == [SHA256.hex(Array("b".utf8))])
    }

    @Test func temporaryNamesIgnored() throws {
        try write("x", to: ".step.tmp")
        try write("x", to: "step-2.json.tmp")
        var capturer = capturer()

        let scannedCapturer = try scan(&capturer)
        #expect(scannedCapturer.checkpoints.isEmpty)
    }

    @Test func truncatedJSONStoredInvalid() throws {
        try write(#"{"step":"#, to: "step-3.json")
        var capturer = capturer()

        let scanned = try scan(&capturer)
        let row = try #require(scanned.checkpoints.first)

        #expect(!row.valid)
        #expect(row.storedPath != nil)
    }

    /// One hostile entry, made by `create`, and the words its refusal must contain.
    struct Hostile: Sendable {
        let label: String
        let name: String
        let reason: String
        let create: @Sendable (CheckpointCaptureTests) throws -> Void
    }

    static let hostile: [Hostile] = [
        Hostile(label: "symbolic link to /etc/passwd", name: "passwd.json", reason: "is a symbolic link, which capture never follows") {
            try FileManager.default.createSymbolicLink(atPath: $0.checkpoints + "/passwd.json", withDestinationPath: "/etc/passwd")
        },
        Hostile(label: "FIFO", name: "pipe.json", reason: "is a FIFO, not a regular file") {
            #expect(mkfifo($0.checkpoints + "/pipe.json", 0o644) == 0)
        },
        Hostile(label: "directory", name: "nested", reason: "is a directory, not a regular file") {
            try FileManager.default.createDirectory(atPath: $0.checkpoints + "/nested", withIntermediateDirectories: false)
        },
        Hostile(label: "sparse huge file", name: "huge.bin", reason: "is 68719476736 bytes, more than the limit of 1048576 bytes per checkpoint") {
            let descriptor = open($0.checkpoints + "/huge.bin", O_WRONLY | O_CREAT, 0o644)
            #expect(ftruncate(descriptor, 64 << 30) == 0)
            close(descriptor)
        },
        Hostile(label: "name with a newline", name: "bad\\x0aname.json", reason: "the name contains a control character") {
            try $0.write("{}", to: "bad\nname.json")
        },
        Hostile(label: "name that is not UTF-8", name: "f\\xffo", reason: "the name is not valid UTF-8") {
            let path = Array($0.checkpoints.utf8) + [0x2f, 0x66, 0xff, 0x6f, 0]
            let descriptor = path.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT, 0o644) }
            close(descriptor)
        },
    ]

    @Test func hostileEntriesRefused() throws {
        for hostile in Self.hostile {
            try? FileManager.default.removeItem(atPath: checkpoints)
            try FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
            try hostile.create(self)
            try write("{}", to: "good.json")
            var capturer = capturer()

            let result = try scan(&capturer)

            let refused = result.checkpoints.first { $0.refusedReason != nil }
            #expect(refused?.name == hostile.name, "\(hostile.label)")
            #expect(refused?.refusedReason?.contains(hostile.reason) == true, "\(hostile.label): \(String(describing: refused?.refusedReason))")
            #expect(refused?.storedPath == nil, "\(hostile.label)")
            #expect(result.checkpoints.filter { $0.storedPath != nil }.map(\.name) == ["good.json"], "\(hostile.label)")
        }
    }

    @Test func deviceAndSocketRefused() throws {
        try #require(getuid() == 0, "creating a device node needs root")
        let device = try SpawnedProcess.runBlocking(
            "/usr/bin/mknod", [checkpoints + "/device", "c", "1", "3"], environment: TestHost.environment(home: checkpoints))
        try #require(device.status == 0)
        let socketDescriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socketDescriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in (checkpoints + "/socket").utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        var capturer = capturer()

        let scanned = try scan(&capturer)
        let reasons = Dictionary(uniqueKeysWithValues: scanned.checkpoints.map { ($0.name, $0.refusedReason ?? "") })

        #expect(reasons["device"] == "is a character device, not a regular file")
        #expect(reasons["socket"] == "is a socket, not a regular file")
    }

    @Test func linkedDirectoryNeverEntered() throws {
        try FileManager.default.removeItem(atPath: checkpoints)
        try FileManager.default.createSymbolicLink(atPath: checkpoints, withDestinationPath: "/etc")
        var capturer = capturer()

        let result = try scan(&capturer)

        #expect(result.checkpoints.count == 1)
        #expect(result.checkpoints.first?.name == "checkpoints")
        #expect(result.checkpoints.first?.refusedReason == "the checkpoint directory checkpoints cannot be read because checkpoints is a symbolic link; nothing in it was read")
        #expect(!FileManager.default.fileExists(atPath: store))
    }

    @Test func linkInsideDirectoryPathRefused() throws {
        try FileManager.default.createDirectory(atPath: workspace + "/perstack", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: workspace + "/perstack/jobs", withDestinationPath: "/etc")
        let adapter = PerstackAdapter(options: JobSpec.PerstackOptions(expert: "writer", query: "q"), jobID: 1)
        var capturer = capturer(policy: adapter, directory: adapter.checkpointDirectory)

        let result = try scan(&capturer)

        #expect(result.checkpoints.map(\.name) == ["perstack/jobs"])
        #expect(result.checkpoints.first?.refusedReason?.contains("because perstack/jobs is a symbolic link") == true)
    }

    @Test func replacedDuringCopyRefused() throws {
        try write(String(repeating: "a", count: 1_500_000), to: "big.bin")
        try write("replacement", to: ".replacement")
        var capturer = capturer(limits: CaptureLimits(maxFileBytes: 4 << 20, maxJobBytes: 8 << 20))
        let directory = checkpoints
        capturer.afterFirstChunk = { name in
            rename(directory + "/.replacement", directory + "/" + name)
        }

        let first = try scan(&capturer)
        capturer.afterFirstChunk = nil
        let second = try scan(&capturer)

        #expect(first.checkpoints.count == 1)
        #expect(first.checkpoints.first?.refusedReason == "changed while it was copied; it is captured again once it stays the same")
        #expect(first.createdFiles.isEmpty)
        #expect(second.checkpoints.first?.sha256 == SHA256.hex(Array("replacement".utf8)))
        // The refused copy left nothing behind in the store.
        #expect(try FileManager.default.contentsOfDirectory(atPath: store) == [second.checkpoints.first?.sha256 ?? ""])
    }

    @Test func grownDuringCopyRefused() throws {
        try write(String(repeating: "a", count: 1_500_000), to: "big.bin")
        var capturer = capturer(limits: CaptureLimits(maxFileBytes: 4 << 20, maxJobBytes: 8 << 20))
        let directory = checkpoints
        capturer.afterFirstChunk = { name in
            let handle = FileHandle(forWritingAtPath: directory + "/" + name)
            handle?.seekToEndOfFile()
            handle?.write(Data("more".utf8))
            try? handle?.close()
        }

        let result = try scan(&capturer)

        #expect(result.checkpoints.count == 1)
        #expect(result.checkpoints.first?.refusedReason?.hasSuffix("while it was copied; it is captured again once it stays the same") == true)
    }

    @Test func jobBudgetRefusesExcess() throws {
        try write(String(repeating: "a", count: 600), to: "one")
        var capturer = capturer(limits: CaptureLimits(maxFileBytes: 1000, maxJobBytes: 1000))
        _ = try scan(&capturer)
        try write(String(repeating: "b", count: 600), to: "two")

        let result = try scan(&capturer)

        #expect(result.checkpoints.first?.name == "two")
        #expect(result.checkpoints.first?.refusedReason == "would bring the job's stored checkpoints to 1200 bytes, more than the limit of 1000 bytes (checkpoints.maxJobBytes)")
    }

    @Test func storedContentKnownAfterRestart() throws {
        try write("a", to: "state")
        var first = capturer()
        let captured = try scan(&first)
        let row = try #require(captured.checkpoints.first)
        let existing = [ResumeChoiceTests.record(1, "state").with(sha256: row.sha256, storedPath: row.storedPath)]
        var restarted = capturer(existing: existing)

        let scannedRestarted = try scan(&restarted)
        #expect(scannedRestarted.checkpoints.isEmpty)
    }

    @Test func baselineLetsRewriteClearSuperseded() throws {
        try write("a", to: "state")
        let sha = SHA256.hex(Array("a".utf8))
        let superseded = ResumeChoiceTests.record(1, "state", superseded: true).with(sha256: sha, storedPath: store + "/" + sha)
        var lister = capturer()
        let baseline = lister.currentFiles()

        var unchanged = capturer(existing: [superseded], baseline: baseline)
        let scannedUnchanged = try scan(&unchanged)
        #expect(scannedUnchanged.checkpoints.isEmpty)

        try FileManager.default.removeItem(atPath: checkpoints + "/state")
        try write("a", to: "state")
        var rewritten = capturer(existing: [superseded], baseline: baseline)
        let scannedRewritten = try scan(&rewritten)
        #expect(scannedRewritten.checkpoints.map(\.name) == ["state"])

        var adopted = capturer(existing: [superseded])
        let scannedAdopted = try scan(&adopted)
        #expect(scannedAdopted.checkpoints.isEmpty)
    }

    // MARK: Restore

    func storedRecord(_ id: Int64, _ name: String, content: String) throws -> CheckpointRecord {
        let sha = SHA256.hex(Array(content.utf8))
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try Data(content.utf8).write(to: URL(fileURLWithPath: store + "/" + sha))
        return ResumeChoiceTests.record(id, name).with(sha256: sha, storedPath: store + "/" + sha, size: Int64(content.utf8.count))
    }

    @Test func restoreRebuildsMissingWorkspace() throws {
        let record = try storedRecord(1, "step-1.json", content: #"{"step":1}"#)
        try FileManager.default.removeItem(atPath: workspace)
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: false)
        let restorer = CheckpointRestorer(workspace: workspace, directory: ["checkpoints"], owner: (65534, 65534))

        let written = try restorer.restore([record], exact: [])

        #expect(written == ["step-1.json"])
        #expect(try String(contentsOfFile: checkpoints + "/step-1.json", encoding: .utf8) == #"{"step":1}"#)
        var status = stat()
        #expect(lstat(checkpoints + "/step-1.json", &status) == 0)
        #expect(status.st_uid == 65534)
        #expect(lstat(checkpoints, &status) == 0)
        #expect(status.st_uid == 65534)
    }

    @Test func restoreReplacesLinksWithoutWritingThrough() throws {
        let outside = root + "/outside.txt"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: outside))
        try FileManager.default.createSymbolicLink(atPath: checkpoints + "/state", withDestinationPath: outside)
        let record = try storedRecord(1, "state", content: "stored")
        let restorer = CheckpointRestorer(workspace: workspace, directory: ["checkpoints"], owner: nil)

        _ = try restorer.restore([record], exact: [])

        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "keep")
        var status = stat()
        #expect(lstat(checkpoints + "/state", &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFREG)
        #expect(try String(contentsOfFile: checkpoints + "/state", encoding: .utf8) == "stored")
    }

    @Test func restoreReplacesLinkedDirectory() throws {
        let outsideDirectory = root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: outsideDirectory, withIntermediateDirectories: false)
        try FileManager.default.removeItem(atPath: checkpoints)
        try FileManager.default.createSymbolicLink(atPath: checkpoints, withDestinationPath: outsideDirectory)
        let record = try storedRecord(1, "state", content: "stored")
        let restorer = CheckpointRestorer(workspace: workspace, directory: ["checkpoints"], owner: nil)

        _ = try restorer.restore([record], exact: [])

        #expect(try FileManager.default.contentsOfDirectory(atPath: outsideDirectory).isEmpty)
        var status = stat()
        #expect(lstat(checkpoints, &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFDIR)
        #expect(try String(contentsOfFile: checkpoints + "/state", encoding: .utf8) == "stored")
    }

    @Test func restoreRewritesOnlyExactDifferences() throws {
        let chosen = try storedRecord(1, "state", content: "good")
        let other = try storedRecord(2, "other", content: "stored")
        try write("torn", to: "state")
        try write("newer", to: "other")
        let restorer = CheckpointRestorer(workspace: workspace, directory: ["checkpoints"], owner: nil)

        let written = try restorer.restore([chosen, other], exact: [chosen.id])

        #expect(written == ["state"])
        #expect(try String(contentsOfFile: checkpoints + "/state", encoding: .utf8) == "good")
        #expect(try String(contentsOfFile: checkpoints + "/other", encoding: .utf8) == "newer")
    }
}

/// Carries a capturer to the scanning thread and back.
private final class ScanBox: @unchecked Sendable {
    // @unchecked: the test thread reads the fields only after the semaphore signals the end of the scan.
    var capturer: CheckpointCapturer
    var result = CaptureResult()

    init(_ capturer: CheckpointCapturer) {
        self.capturer = capturer
    }

    func run() {
        result = capturer.scan()
    }
}

extension CheckpointRecord {
    func with(sha256: String?, storedPath: String?, size: Int64? = nil) -> CheckpointRecord {
        var copy = self
        copy.sha256 = sha256
        copy.storedPath = storedPath
        if let size { copy.size = size }
        return copy
    }
}

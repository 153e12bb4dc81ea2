import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

/// One hostile entry in a job's checkpoint directory and the refusal it must get.
struct HostileCase: Sendable, CustomTestStringConvertible {
    /// The `berth-hostile-job` case that creates the entry.
    let name: String
    /// The refused row's name.
    let entry: String
    /// Part of the refusal reason.
    let reason: String
    /// Whether the job can still write a good checkpoint afterwards.
    let goodCheckpoint: Bool

    var testDescription: String { name }
}

/// Jobs that put hostile files into their checkpoint directory; each one is
/// refused, nothing outside the workspace is read, and the daemon goes on.
@Suite("Hostile workspace", .enabled(if: containersAvailable))
struct HostileWorkspaceTests {
    static let cases: [HostileCase] = [
        HostileCase(name: "symlink-file", entry: "passwd.json", reason: "is a symbolic link, which capture never follows", goodCheckpoint: true),
        HostileCase(name: "symlink-dir", entry: "checkpoints", reason: "because checkpoints is a symbolic link; nothing in it was read", goodCheckpoint: false),
        HostileCase(name: "fifo", entry: "pipe.json", reason: "is a FIFO, not a regular file", goodCheckpoint: true),
        HostileCase(name: "sparse-huge", entry: "sparse.bin", reason: "more than the limit of 1048576 bytes per checkpoint", goodCheckpoint: true),
        HostileCase(name: "over-limit", entry: "big.bin", reason: "is 2097152 bytes, more than the limit of 1048576 bytes", goodCheckpoint: true),
        HostileCase(name: "newline-name", entry: "bad\\x0aname.json", reason: "the name contains a control character", goodCheckpoint: true),
    ]

    @Test func hostileEntriesRefused() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon(overrides: ["concurrency": 8, "defaultQueue": ["concurrency": 8]])
            var jobs: [(HostileCase, Int64)] = []
            for hostile in Self.cases {
                jobs.append((hostile, try await sandbox.submit(["command": ["/bin/berth-hostile-job", hostile.name]])))
            }
            let hostMade = try await sandbox.submit(["command": ["/bin/berth-hostile-job", "host-made"]])
            try await createHostEntries(sandbox, job: hostMade)

            for (hostile, id) in jobs {
                try await sandbox.waitForState(id, [.succeeded])
                let checkpoints = try sandbox.checkpoints(id)
                let refused = checkpoints.first { $0.name == hostile.entry }
                #expect(refused?.refusedReason?.contains(hostile.reason) == true, "\(hostile.name): \(checkpoints)")
                #expect(refused?.storedPath == nil, "\(hostile.name)")
                #expect(refused?.sha256 == nil, "\(hostile.name)")
                let good = checkpoints.first { $0.name == "good.json" }
                #expect((good?.valid ?? false) == hostile.goodCheckpoint, "\(hostile.name): \(checkpoints)")
                #expect(checkpoints.filter { $0.storedPath != nil }.allSatisfy { $0.name == "good.json" }, "\(hostile.name): \(checkpoints)")
            }
            try await sandbox.waitForState(hostMade, [.succeeded])
            let hostMadeRows = try sandbox.checkpoints(hostMade)
            #expect(hostMadeRows.first { $0.name == "device" }?.refusedReason?.contains("is a character device") == true, "\(hostMadeRows)")
            #expect(hostMadeRows.first { $0.name == "socket" }?.refusedReason?.contains("is a socket") == true, "\(hostMadeRows)")
            #expect(hostMadeRows.first { $0.name == "good.json" }?.valid == true)

            // Nothing from outside the workspace reached the store.
            let passwd = try Data(contentsOf: URL(fileURLWithPath: "/etc/passwd"))
            let stored = try FileManager.default.subpathsOfDirectory(atPath: sandbox.checkpointStore)
            for path in stored {
                let full = sandbox.checkpointStore + "/" + path
                var status = stat()
                guard lstat(full, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
                #expect(try Data(contentsOf: URL(fileURLWithPath: full)) != passwd, "\(path) is a copy of /etc/passwd")
            }
        }
    }

    @Test func replacedDirectoryRepairedForRetry() async throws {
        try await withSandbox { sandbox in
            try sandbox.startDaemon()
            let id = try await sandbox.submit(["command": ["/bin/berth-hostile-job", "symlink-dir", "fail-first"]])

            try await sandbox.waitForState(id, [.succeeded])

            let attempts = try sandbox.attempts(id)
            #expect(attempts.map(\.outcome) == [.failed, .succeeded])
            var status = stat()
            #expect(lstat(sandbox.workspace(id) + "/checkpoints", &status) == 0)
            #expect(status.st_mode & S_IFMT == S_IFDIR)
            #expect(status.st_uid == 65534)
            #expect(try sandbox.checkpoints(id).first { $0.name == "good.json" }?.valid == true)
        }
    }

    /// Waits for the host-made case to be ready, then adds a device node and a
    /// socket to its checkpoint directory and lets it go on.
    private func createHostEntries(_ sandbox: Sandbox, job: Int64) async throws {
        try await waitUntil("job \(job) is ready for its host-made entries") {
            try !sandbox.events(job, type: "ready").isEmpty
        }
        let directory = sandbox.workspace(job) + "/checkpoints"
        let mknod = try await SpawnedProcess.run("/usr/bin/mknod", [directory + "/device", "c", "1", "3"], environment: sandbox.environment)
        try #require(mknod.status == 0, "mknod failed: \(mknod)")
        try bindSocket(at: directory + "/socket")
        try Data().write(to: URL(fileURLWithPath: sandbox.workspace(job) + "/go"))
    }

    /// Creates a Unix socket file at `path`, closing the socket right away.
    private func bindSocket(at path: String) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0, "bind \(path): \(String(cString: strerror(errno)))")
    }
}

import Foundation
import Glibc

@testable import BerthEngine

/// The environment for test children: just enough to find the system tools.
let testEnvironment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]

/// Returns a command that runs `script` with /bin/sh.
func shell(_ script: String, environment: [String: String] = testEnvironment) -> ProcessCommand {
    ProcessCommand(executable: "/bin/sh", arguments: ["-c", script], environment: environment)
}

/// Returns whether a process with this pid exists and is not a zombie.
func isAlive(_ pid: pid_t) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    // The state letter follows the command name, which is in parentheses.
    guard let closing = status.lastIndex(of: ")") else { return false }
    let state = status[status.index(closing, offsetBy: 2)...].prefix(1)
    return state != "Z" && state != "X"
}

/// Creates a fresh directory under the system's temporary directory, for the caller to remove.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("berth-engine-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes an executable shell script named `name` into `directory` and returns its path.
///
/// The file is written through a close-on-exec descriptor. A child that
/// another test spawns meanwhile would otherwise inherit the descriptor open
/// for writing, and executing the script would then fail with ETXTBSY.
func writeScript(named name: String, in directory: URL, _ body: String) throws -> String {
    let path = directory.appendingPathComponent(name).path
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard descriptor >= 0 else { throw FixtureError("cannot create \(path): errno \(errno)") }
    defer { close(descriptor) }

    let bytes = Array("#!/bin/sh\n\(body)\n".utf8)
    let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw FixtureError("cannot write \(path): errno \(errno)") }
    return path
}

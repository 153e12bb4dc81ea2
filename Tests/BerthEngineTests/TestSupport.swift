import Foundation

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
func writeScript(named name: String, in directory: URL, _ body: String) throws -> String {
    let url = directory.appendingPathComponent(name)
    try "#!/bin/sh\n\(body)\n".write(to: url, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    return url.path
}

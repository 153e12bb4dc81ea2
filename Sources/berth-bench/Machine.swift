import BerthStore
import Foundation

/// The machine a run measures on, printed with every run because absolute
/// numbers mean little without it.
enum Machine {
    static func describe(sqlite3: String) -> String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let architecture = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let shell = (try? Subprocess.output([sqlite3, "--version"]))?.split(separator: " ").first.map(String.init) ?? "missing"
        let processor = cpuModel() ?? "unknown processor"
        return "machine: \(cores) cores (\(processor)), \(String(format: "%.1f", memory)) GiB memory, "
            + "Linux \(kernel) \(architecture), SQLite \(SQLiteConnection.libraryVersion) linked into berth, sqlite3 shell \(shell)"
    }

    /// The 1, 5 and 15 minute load averages, which show how busy the shared machine was.
    static func load() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    private static func cpuModel() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("model name") }
        return line.flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// CPU time a process has used so far, user and system, in seconds.
    static func cpuSeconds(pid: pid_t) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = text[text.index(after: afterName)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory of a process in bytes: the current value and the peak (VmHWM).
    static func residentMemory(pid: pid_t) -> (current: Double, peak: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kibibytes(_ key: String) -> Double? {
            let line = text.split(separator: "\n").first { $0.hasPrefix(key + ":") }
            return line.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Double($0) }
        }
        guard let current = kibibytes("VmRSS"), let peak = kibibytes("VmHWM") else { return nil }
        return (current * 1024, peak * 1024)
    }
}

import Foundation

/// Processes of this machine found through /proc, for tests that check
/// which helper processes the daemon left running.
enum Processes {
    /// Pids of the processes whose argv satisfies `predicate`.
    static func pids(whereArguments predicate: ([String]) -> Bool) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return predicate(arguments) ? pid : nil
        }
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The built `berth` executable.
public enum BerthBinary {
    /// `$BERTH_BINARY` when set, else `berth` next to the running test executable.
    ///
    /// SwiftPM writes the test executable and the products into one
    /// directory, such as `.build/debug/`, and builds `berth` first because
    /// the test targets depend on it.
    public static let path: String? = {
        if let override = ProcessInfo.processInfo.environment["BERTH_BINARY"], !override.isEmpty {
            return override
        }
        var directories: [URL] = []
        if let executable = realpath("/proc/self/exe", nil) {
            directories.append(URL(fileURLWithPath: String(cString: executable)).deletingLastPathComponent())
            free(executable)
        }
        directories.append(Bundle.main.bundleURL)
        directories.append(Bundle.main.bundleURL.deletingLastPathComponent())
        return directories
            .map { $0.appendingPathComponent("berth").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Returns `path`, or throws what to do when there is none.
    public static func require() throws -> String {
        guard let path else {
            throw TestFailure("no berth binary next to the test executable; run `swift build` first or set BERTH_BINARY")
        }
        return path
    }
}

import Foundation

/// The tools and fixture files that the tests take from this machine and this repository.
public enum TestHost {
    /// `Tests/Fixtures` in this repository.
    public static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// Podman settings for the test machines (cgroupfs, runc, lower ulimits), passed as CONTAINERS_CONF.
    public static let containersConf = fixtures.appendingPathComponent("containers.conf").path

    public static let podman = firstExecutable(["/usr/bin/podman", "/usr/local/bin/podman"])
    public static let sqlite3 = firstExecutable(["/usr/bin/sqlite3", "/usr/local/bin/sqlite3"])
    /// A static busybox, which the test image copies in so that it needs no registry.
    public static let busybox = firstExecutable(["/bin/busybox", "/usr/bin/busybox"])

    /// The system directories where the tests look up commands.
    public static let systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Returns the whole environment of a child: the system tools, a home
    /// directory and podman's test settings, and nothing from the developer's
    /// shell, so that a `BERTH_*` variable there cannot change a test.
    public static func environment(home: String, language: String? = "C.UTF-8") -> [String: String] {
        var environment = ["PATH": systemPath, "HOME": home, "CONTAINERS_CONF": containersConf]
        environment["LANG"] = language
        return environment
    }

    private static func firstExecutable(_ candidates: [String]) -> String? {
        candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

import Foundation

/// Configuration files for `berth daemon` in tests.
public enum TestDaemonConfiguration {
    /// Returns the settings that the daemons of all test targets share.
    ///
    /// Podman never pulls, so nothing reaches a registry. Short intervals
    /// keep the tests fast, and debug logging serves the log checks and
    /// failure reports.
    ///
    /// Each target merges its own limits and retry settings on top with `merge`.
    public static func base(directory: URL, databasePath: String, workerID: String) -> [String: Any] {
        [
            "database": ["path": databasePath],
            "directories": [
                "workspaces": directory.appendingPathComponent("workspaces").path,
                "checkpoints": directory.appendingPathComponent("checkpoints").path,
                "runtime": directory.appendingPathComponent("run").path,
            ],
            "workerID": workerID,
            "engine": ["kind": "podman", "pullPolicy": "never", "callTimeout": "30s"],
            "pollInterval": "100ms",
            "heartbeatInterval": "1s",
            "output": ["batchInterval": "20ms"],
            "logLevel": "debug",
        ]
    }

    /// Returns `base` with `overrides` merged in key by key: nested objects
    /// are merged, and any other value replaces the one in `base`.
    public static func merge(_ base: [String: Any], _ overrides: [String: Any]) -> [String: Any] {
        var merged = base
        for (key, value) in overrides {
            if let nested = value as? [String: Any], let existing = merged[key] as? [String: Any] {
                merged[key] = merge(existing, nested)
            } else {
                merged[key] = value
            }
        }
        return merged
    }

    /// Writes `configuration` as JSON, which is also valid JSON5, to `path`.
    public static func write(_ configuration: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: configuration, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }
}

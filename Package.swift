// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "berth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
        .executable(name: "berth-bench", targets: ["berth-bench"]),
    ],
    targets: [
        // libsqlite3 from the system (Debian: libsqlite3-dev).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        // The domain model: job specs, states, retry policy, limits. No I/O.
        .target(name: "BerthCore"),

        // The SQLite store. Every SQLite C call lives here.
        .target(
            name: "BerthStore",
            dependencies: ["BerthCore", "CSQLite"],
            plugins: ["MigrationsPlugin"]
        ),

        // Child processes and the container engine's command line (docker or podman).
        .target(name: "BerthEngine", dependencies: ["BerthCore"]),

        // The worker daemon: claims jobs, supervises one container per attempt, stores output.
        .target(name: "BerthDaemon", dependencies: ["BerthCore", "BerthStore", "BerthEngine"]),

        // The admin command line.
        .target(name: "BerthCLI", dependencies: ["BerthCore", "BerthStore", "BerthDaemon"]),
        .executableTarget(name: "berth", dependencies: ["BerthCLI"]),

        // Benchmarks of the queue, event ingestion and container overhead; see docs/benchmarks.md.
        .executableTarget(name: "berth-bench", dependencies: ["BerthCore", "BerthStore", "BerthDaemon", "BerthEngine", "CSQLite"]),

        // Build-time tool and plugin that embed migrations/*.sql into the binary.
        .executableTarget(name: "EmbedMigrations"),
        .plugin(
            name: "MigrationsPlugin",
            capability: .buildTool(),
            dependencies: ["EmbedMigrations"]
        ),

        // Helpers for the test targets that run berth, podman and sqlite3 as
        // child processes: sandboxes, spawning, test daemons, the test images.
        .target(name: "BerthTestSupport", path: "Tests/BerthTestSupport"),

        .testTarget(name: "BerthCoreTests", dependencies: ["BerthCore"]),
        .testTarget(name: "BerthStoreTests", dependencies: ["BerthStore", "BerthCore"]),
        .testTarget(name: "BerthEngineTests", dependencies: ["BerthEngine", "BerthCore"]),
        .testTarget(
            name: "BerthDaemonTests",
            dependencies: ["BerthDaemon", "BerthEngine", "BerthStore", "BerthCore", "berth", "BerthTestSupport"]),
        .testTarget(
            name: "BerthCheckpointTests",
            dependencies: ["BerthDaemon", "BerthEngine", "BerthStore", "BerthCore", "berth", "BerthTestSupport"]),
        .testTarget(
            name: "BerthFaultTests",
            dependencies: ["BerthDaemon", "BerthEngine", "BerthStore", "BerthCore", "berth", "BerthTestSupport"]),
        .testTarget(
            name: "BerthOperationsTests",
            dependencies: ["BerthDaemon", "BerthEngine", "BerthStore", "BerthCore", "berth", "BerthTestSupport"]),
        .testTarget(name: "BerthCLITests", dependencies: ["berth", "BerthStore", "BerthCore", "BerthTestSupport"]),
    ]
)

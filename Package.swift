// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Durable",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Durable", targets: ["Durable"]),
        // The same engine on PostgreSQL, for fleets of machines: `import DurablePostgres`.
        .library(name: "DurablePostgres", targets: ["DurablePostgres"]),
        // The web dashboard (`durable ui`), for applications that serve it themselves.
        .library(name: "DurableDashboard", targets: ["DurableDashboard"]),
        .executable(name: "durable", targets: ["DurableCLI"]),
        .executable(name: "durable-example", targets: ["DurableExample"]),
        // For the Benchmarks package (which depends on this one by path): the test
        // kit and the worker harness its cross-process workloads start.
        .library(name: "DurableTestKit", targets: ["DurableTestKit"]),
        .executable(name: "DurableTestWorker", targets: ["DurableTestWorker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Already built for AsyncHTTPClient (through swift-certificates): SHA-256 for durable fetch.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // `swift package generate-documentation`: the DocC catalog in Sources/Durable/Durable.docc.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // `durable ui`: the web dashboard's server.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Metrics and traces of the engine: the APIs only; the application picks the backends.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // `durable ui`'s /metrics, in Prometheus' text format.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Turns migrations/*.sql into Swift string literals at build time, so the
        // schema travels inside every binary that links Durable.
        .executableTarget(name: "MigrationEmbedder", swiftSettings: strict),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"]
        ),
        // The engine: the API users call and the runtime behind it (workers, waiters,
        // the change feed), written against the store protocol only. It imports no
        // database library; each store is a target of its own.
        .target(
            name: "DurableEngine",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),
        // The SQLite store on GRDB: the embedded default. Its schema is migrations/sqlite/*.sql.
        .target(
            name: "DurableSQLite",
            dependencies: [
                "DurableEngine",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C interface, for the few statements every task passes through.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            plugins: ["EmbedMigrations"]
        ),
        // The PostgreSQL store on postgres-nio: the same engine for many machines on one
        // database. Its schema is migrations/postgres/*.sql. Only those who import it build it.
        .target(
            name: "DurablePostgres",
            dependencies: [
                "DurableEngine",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict,
            plugins: ["EmbedMigrations"]
        ),
        // What users import: the engine, opened on an SQLite file by default.
        .target(
            name: "Durable",
            dependencies: ["DurableEngine", "DurableSQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The web dashboard (`durable ui`): pages and a JSON API over an engine's
        // stored state, served by Hummingbird; on every store.
        .target(
            name: "DurableDashboard",
            dependencies: [
                "DurableEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The `durable` command's logic, a library so that tests reach it in-process.
        .target(
            name: "DurableCommands",
            dependencies: [
                "Durable",
                "DurableDashboard",
                "DurablePostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The `durable` executable: main.swift only.
        .executableTarget(name: "DurableCLI", dependencies: ["DurableCommands"], swiftSettings: strict),
        .executableTarget(
            name: "DurableExample",
            dependencies: [
                "Durable",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // What the tests, the torture suite and the benchmarks share: child processes
        // (start, SIGKILL, reap; the `durable` tool), SQL probes, a small filesystem,
        // temporary directories and engines (also as a Swift Testing trait), polling,
        // and the jobs of the test engines and of the worker harness.
        .target(
            name: "DurableTestKit",
            dependencies: [
                "Durable",
                "DurablePostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/DurableTestKit",
            swiftSettings: strict
        ),
        // The one worker harness: a process that the crash tests, the torture suite
        // and the benchmarks start, kill with SIGKILL and restart (subcommands run,
        // submit, open, share, serve, probe, seed).
        .executableTarget(
            name: "DurableTestWorker",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                "Durable",
                "DurablePostgres",
                "DurableTestKit",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/DurableTestWorker",
            swiftSettings: strict
        ),
        // The torture suite: kills, concurrent processes, faults and bad rows (TORTURE.md).
        .executableTarget(
            name: "Torture",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                "DurableTestKit",
                "DurableTestWorker",
                "Durable",
                "DurablePostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Torture",
            swiftSettings: strict
        ),
        // The fast tests: everything runs in the test process (`swift test --filter DurableTests`).
        .testTarget(
            name: "DurableTests",
            dependencies: [
                "DurableTestKit",
                "Durable",
                "DurableCommands",
                "DurableDashboard",
                "DurableEngine",
                "DurableSQLite",
                "DurablePostgres",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The tests that start processes: crash tests (DurableTestWorker, SIGKILL),
        // several processes on one file, and the built `durable` tool.
        .testTarget(
            name: "DurableProcessTests",
            dependencies: [
                "DurableTestKit",
                "DurableTestWorker",
                "Durable",
                "DurableEngine",
                "DurableSQLite",
                "DurablePostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)

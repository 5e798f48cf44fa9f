// swift-tools-version:6.1
// Benchmarks for Durable: package-benchmark suites (Benchmarks/<Suite>/<Suite>.swift)
// and the `DurableBench` command that compare.sh runs side by side with the peers.
// The worker processes of the cross-process workloads are the root package's
// `DurableTestWorker` (its `run` and `seed` subcommands), built alongside.
//
//     swift package --allow-writing-to-package-directory benchmark
//     ./compare.sh
import PackageDescription

let benchmarkSuites = ["EndToEnd", "Enqueue", "Latency", "Restart", "MultiProcess"]

let package = Package(
    name: "DurableBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Durable", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The workloads, shared by the suites and by DurableBench.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "Durable", package: "Durable"),
                // The application's own pool or connection of the app-transaction workload.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // The same workloads on a PostgreSQL server ($DURABLE_BENCH_POSTGRES).
                .product(name: "DurablePostgres", package: "Durable"),
                // The jobs (noop, sleepy) and where DurableTestWorker is.
                .product(name: "DurableTestKit", package: "Durable"),
                // The dashboard's server time on a big database (`DurableBench dashboard`).
                .product(name: "DurableDashboard", package: "Durable"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                // In-memory metrics and traces: what they cost ($DURABLE_BENCH_OBSERVE=1).
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // One JSON line per workload, like the peer scripts: what compare.sh runs.
        .executableTarget(
            name: "DurableBench",
            dependencies: [
                "BenchSupport",
                // Built alongside, for the workloads that start worker processes.
                .product(name: "DurableTestWorker", package: "Durable"),
            ]
        ),
    ] + benchmarkSuites.map { suite in
        .executableTarget(
            name: suite,
            dependencies: [
                "BenchSupport",
                // Built alongside, for the suites that start worker processes.
                .product(name: "DurableTestWorker", package: "Durable"),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/\(suite)",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        )
    },
    swiftLanguageModes: [.v6]
)

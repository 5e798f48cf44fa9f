// swift-tools-version:6.1
// Benchmarks for Durable: package-benchmark suites (Benchmarks/<Suite>/<Suite>.swift),
// the `DurableBench` command that compare.sh runs side by side with the peers, and
// the `BenchWorker` process that the cross-process suites start.
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
    ],
    targets: [
        // The workloads, shared by the suites and by DurableBench.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "Durable", package: "Durable"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // One JSON line per workload, like the peer scripts: what compare.sh runs.
        .executableTarget(name: "DurableBench", dependencies: ["BenchSupport"]),
        // A worker process on a shared file, for the cross-process workloads.
        .executableTarget(name: "BenchWorker", dependencies: ["BenchSupport"]),
    ] + benchmarkSuites.map { suite in
        .executableTarget(
            name: suite,
            dependencies: [
                "BenchSupport",
                // Built alongside, for the suites that start worker processes.
                "BenchWorker",
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/\(suite)",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        )
    },
    swiftLanguageModes: [.v6]
)

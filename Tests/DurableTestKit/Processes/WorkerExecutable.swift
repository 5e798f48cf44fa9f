public import Foundation

/// Where the built `DurableTestWorker` is: the one worker harness that the crash
/// tests, the torture suite and the benchmarks start. `swift build` puts it in the
/// same folder as the test bundle, `Torture` and the benchmarks' executables.
public enum WorkerExecutable {
    /// The environment variables that name the worker's path, first one set wins.
    public static let environmentVariables = ["DURABLE_TEST_WORKER", "DURABLE_BENCH_WORKER"]

    /// `$DURABLE_TEST_WORKER` (or `$DURABLE_BENCH_WORKER`), else the
    /// `DurableTestWorker` next to this process's executable or test bundle.
    public static func url() throws -> URL {
        for variable in environmentVariables {
            if let path = ProcessInfo.processInfo.environment[variable] { return URL(fileURLWithPath: path) }
        }
        let candidates = folders()
        for directory in candidates {
            let url = directory.appendingPathComponent("DurableTestWorker")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestKitError(
            "DurableTestWorker not found next to this executable (looked in \(candidates.map(\.path))); "
                + "build it with `swift build --build-tests` (or `--product DurableTestWorker`) or set DURABLE_TEST_WORKER")
    }

    /// The folders the worker may be in: this executable's, the test bundles'.
    private static func folders() -> [URL] {
        var candidates: [URL] = []
        #if os(Linux)
            if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
            }
        #endif
        if let executable = Bundle.main.executablePath {
            candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        return candidates
    }
}

// Names shared by the package-benchmark suites' custom metrics (their values are
// whole numbers, so rates are per second and times in microseconds).

/// Custom metric names.
public enum MetricName {
    public static let tasksPerSecond = "tasks/s"
    public static let firstTaskMicroseconds = "first task (µs)"
    public static let peakRSSMegabytes = "peak RSS (MB)"
}

extension Dictionary where Key == String, Value == Any {
    /// A number in a workload's result, as a whole number (`scale` times it).
    public func whole(_ key: String, scale: Double = 1) -> Int {
        switch self[key] {
        case let value as Double: Int((value * scale).rounded())
        case let value as Int: Int((Double(value) * scale).rounded())
        default: 0
        }
    }
}

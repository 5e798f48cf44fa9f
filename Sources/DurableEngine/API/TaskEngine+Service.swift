public import ServiceLifecycle

/// An engine is a ServiceLifecycle service: in a `ServiceGroup`, its worker runs
/// until the group shuts down, and a graceful shutdown lets running tasks finish
/// (within `gracefulShutdownTimeout`) before handing the rest back as pending.
///
/// ```swift
/// let group = ServiceGroup(services: [engine, httpServer], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
extension TaskEngine: Service {}

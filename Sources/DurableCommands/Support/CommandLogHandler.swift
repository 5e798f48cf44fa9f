import Logging

/// The commands' log: standard error, at the command's level, without
/// postgres-nio's own warnings (such as "Trying to lease connection from
/// `PostgresClient`, but `PostgresClient.run()` hasn't been called yet", which
/// a store that leases as its pool starts prints, though nothing is wrong).
/// What fails reaches the user as Durable's one-line errors instead.
struct CommandLogHandler: LogHandler {
    private var base: StreamLogHandler

    /// The messages of this source are passed on only from `error` up.
    static let quietSource = "PostgresNIO"

    init(label: String) {
        base = StreamLogHandler.standardError(label: label)
    }

    /// A logger on standard error at `level`.
    static func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "durable", factory: { CommandLogHandler(label: $0) })
        logger.logLevel = level
        return logger
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.source != Self.quietSource || event.level >= .error else { return }
        base.log(event: event)
    }
}

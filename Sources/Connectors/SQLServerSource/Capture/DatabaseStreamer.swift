import Logging
import NIOPosix
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluiceSQLServer

/// Captures one database (Debezium's "partition") for as long as the connector runs: the session/retry
/// loop. Each `CaptureSession` connects, loads the offset, snapshots when the mode asks for it, then
/// streams. Transient failures (SQL Server or broker unreachable, a connection dropped) end the session;
/// it restarts from the last stored offset after a capped exponential backoff. Fatal problems (purged
/// changes under `offset.purged.policy=fail`, a table without a key, an unsupported type) stop this
/// database with the reason in health and the log, never a crash loop.
struct DatabaseStreamer: Sendable {
    let context: DatabaseContext

    init(configuration: SQLServerSourceConfiguration, database: String, kafka: KafkaConnectionConfiguration,
         health: HealthRegistry, logger: Logger, threadPool: NIOThreadPool, lineage: LineageRun? = nil,
         signals: SourceSignalInbox? = nil) {
        context = DatabaseContext(configuration: configuration, database: database, kafka: kafka, health: health,
                                  logger: logger, threadPool: threadPool, lineage: lineage, signals: signals)
    }

    /// Runs until graceful shutdown (or cancellation), or until a fatal problem stops this database.
    func run() async {
        let context = self.context, configuration = context.configuration, health = context.health
        let component = context.component, logger = context.logger
        health.set(component, .starting)
        defer { health.progress.release(component) }
        var backoff = Duration.milliseconds(configuration.retryBackoffInitialMs)
        let maxBackoff = Duration.milliseconds(configuration.retryBackoffMaxMs)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var healthy = false
            health.progress.renew(component)
            do {
                try await CaptureSession(context: context).run(healthy: &healthy)
                return
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                let problem = SourceError(classifying: error, queryTimeoutMs: configuration.queryTimeoutMs)
                if problem.isFatal {
                    logger.error("Stopped capturing \(context.database): \(problem.message)", metadata: [SourceLoggingKeys.errorCode: "\(problem.code)"])
                    health.set(component, .down(problem.message))
                    context.lineage?.fail("\(context.database): \(problem.message)")
                    return
                }
                if healthy { backoff = .milliseconds(configuration.retryBackoffInitialMs) }
                context.metrics.errors.increment()
                logger.warning("Capturing \(context.database) failed, retrying in \(backoff): \(problem.message)", metadata: [SourceLoggingKeys.errorCode: "\(problem.code)"])
                health.set(component, .down("retrying in \(backoff): \(problem.message)"))
                let wait = backoff
                health.progress.renew(component, expectingNextWithin: wait)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                backoff = min(backoff * 2, maxBackoff)
            }
        }
    }
}

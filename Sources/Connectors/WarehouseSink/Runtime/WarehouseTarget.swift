import Logging
import NIOConcurrencyHelpers
import SluiceCore
import SluiceKafka
import SluiceSinkKit
import SluiceSQLServer

/// The warehouse as a SinkKit target: applies each batch with `WarehouseWriter` and stores the batch's
/// offsets with `WarehouseOffsetStore`, in one warehouse transaction.
///
/// Owns one connection, opened on first use and again after it died. SinkKit calls it from one task
/// at a time; the lock only guards the connection handle.
public final class WarehouseTarget: SinkTarget {
    public let configuration: SQLServerConfiguration
    let writer: WarehouseWriter
    let offsets: WarehouseOffsetStore
    let logger: Logger
    private let connection = NIOLockedValueBox<SQLServerConnection?>(nil)

    let metrics: WarehouseMetrics

    public init(configuration: SQLServerConfiguration, model: WarehouseModel, group: String, logger: Logger) {
        self.configuration = configuration
        self.writer = WarehouseWriter(model: model, logger: logger)
        self.offsets = WarehouseOffsetStore(schema: model.schema, group: group)
        self.logger = logger
        self.metrics = WarehouseMetrics(model: model, group: group)
    }

    /// Builds the target from the connector's configuration.
    public convenience init(_ configuration: WarehouseSinkConfiguration, logger: Logger) {
        let sql = SQLServerConfiguration(host: configuration.host, port: configuration.port, username: configuration.user,
                                         password: configuration.password.value, database: configuration.database)
        self.init(configuration: sql, model: WarehouseModel(configuration: configuration), group: configuration.groupID, logger: logger)
    }

    public func storedOffsets(for partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        try await withConnection { connection in try await offsets.load(partitions, on: connection) }
    }

    public func apply(_ batch: SinkBatch) async throws -> SinkApplyOutcome {
        let prepared: WarehouseBatch
        do {
            prepared = try WarehouseBatch(events: batch.records.map(\.event), model: writer.model)
        } catch {
            throw SinkError(code: .recordRejected, message: error.message, underlying: "\(error.code)")
        }
        let summary = try await withConnection { connection in
            try await connection.withTransaction { connection in
                // The offsets travel in the request that writes the batch, after its rows.
                try await writer.apply(prepared, appending: { offsets.appendStore(batch.nextOffsets, to: &$0) }, on: connection)
            }
        }
        metrics.record(summary)
        // An application event feeds both its dimension and its fact: count it once.
        let stale = summary.ignored.filter { $0.key != WarehouseModel.applicationFactTable }.values.reduce(0, +)
        return SinkApplyOutcome(applied: summary.applied, stale: stale)
    }

    /// Closes the connection (the runtime is done with the target).
    public func close() async {
        let open = connection.withLockedValue { value in
            defer { value = nil }
            return value
        }
        await open?.close()
    }

    /// Runs `body` with the open connection; maps failures to what SinkKit does with them.
    private func withConnection<T: Sendable>(_ body: (SQLServerConnection) async throws -> T) async throws -> T {
        let connection: SQLServerConnection
        do {
            connection = try await openConnection()
        } catch {
            throw SinkError(code: .transient, message: "cannot reach the warehouse \(configuration.host):\(configuration.port); is it up? Retrying.",
                            underlying: "\(error)")
        }
        do {
            return try await body(connection)
        } catch let error as SQLServerError {
            if connection.isClosed { self.connection.withLockedValue { if $0 === connection { $0 = nil } } }
            if error.isRetriable || connection.isClosed {
                throw SinkError(code: .transient, message: "the warehouse asked to retry (or the connection dropped); retrying the batch",
                                underlying: "\(error)")
            }
            if error.code == .duplicateKey {
                // Every unique key of the model (version id, current version, position, fact keys, offsets) is
                // one the writer skips when it is already there, so one writer never meets one: another writer
                // committed the same rows after this batch read them. The retry reads them and skips them.
                throw SinkError(code: .transient,
                                message: "another writer committed the same warehouse rows while this batch ran (a second sink on this warehouse, or the partition's previous owner finishing its batch); retrying the batch, which skips them",
                                underlying: "\(error)")
            }
            if error.code == .invalidObject {
                throw SinkError(code: .transient,
                                message: "the warehouse tables are missing; run db-init/warehouse (scripts/db-init warehouse) against \(configuration.database ?? "the warehouse database")",
                                underlying: "\(error)")
            }
            throw SinkError(code: .recordRejected, message: "the warehouse refused the batch", underlying: "\(error)")
        } catch let error as WarehouseSinkError {
            throw SinkError(code: error.isPoison ? .recordRejected : .transient, message: error.message, underlying: "\(error.code)")
        }
    }

    private func openConnection() async throws -> SQLServerConnection {
        if let open = connection.withLockedValue({ $0 }), !open.isClosed { return open }
        let fresh = try await SQLServerConnection.connect(configuration: configuration, logger: logger)
        connection.withLockedValue { $0 = fresh }
        return fresh
    }
}

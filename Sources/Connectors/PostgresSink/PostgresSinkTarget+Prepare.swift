import PostgresNIO
import SluiceCore
import SluiceSinkKit

extension PostgresSinkTarget {
    /// One table's statements for a batch: its net effect as one delete and one upsert.
    struct TableStatements: Sendable {
        var table: String
        var topics: [String]
        var upsert: PostgresQuery?
        var delete: PostgresQuery?
        /// Upserts in the statement (those not written were stale).
        var upserts: Int
        /// The layout's columns and key the statements were built for.
        var columns: [PostgresTableLayout.Column]
        var keyColumns: [String]

        /// Whether the statements were built for `layout`'s columns and key (the batch before may have
        /// added a column or changed a type since they were prepared).
        func fits(_ layout: PostgresTableLayout) -> Bool {
            layout.columns == columns && layout.keyColumns == keyColumns
        }
    }

    /// A batch's table groups and the statements built for them ahead of its apply.
    struct PreparedBatch: Sendable {
        var groups: [TableGroup]
        /// By table name; tables whose layout this process did not know yet are absent.
        var statements: [String: TableStatements]
    }

    /// The group's net effect as statements for `layout`.
    func tableStatements(_ group: TableGroup, layout: PostgresTableLayout) throws -> TableStatements {
        let effect = NetEffect(group.records)
        do {
            return TableStatements(table: group.name, topics: group.topics.sorted(),
                                   upsert: try upsertQuery(effect.upserts, layout: layout),
                                   delete: try deleteQuery(effect.deletes, layout: layout),
                                   upserts: effect.upserts.count, columns: layout.columns, keyColumns: layout.keyColumns)
        } catch {
            throw SinkError(code: .recordRejected, message: "an event's value does not fit table \(group.name)", underlying: "\(error)")
        }
    }

    /// Groups the batch by table and builds each table's statements for the layout known now, while the
    /// batch before is still being applied (no round trip: a table not known yet, or statements that do
    /// not fit the layout when the batch is applied, are built then). With several apply connections
    /// nothing is prepared (the lanes split the groups at apply).
    public func prepare(_ batch: SinkBatch) -> SinkPreparedBatch? {
        guard sessions.count == 1, !batch.records.isEmpty else { return nil }
        let groups = tableGroups(batch.records)
        let known = layouts.withLockedValue { $0 }
        var statements: [String: TableStatements] = [:]
        for group in groups {
            guard let layout = known[group.name] else { continue }
            // A value that does not fit is reported by the apply, which builds the statements again.
            statements[group.name] = try? tableStatements(group, layout: layout)
        }
        return SinkPreparedBatch(PreparedBatch(groups: groups, statements: statements))
    }
}

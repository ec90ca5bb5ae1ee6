import PostgresNIO
import SluiceCore
import SluiceKafka
import SluiceSinkKit

extension PostgresSinkTarget {
    /// One set-based upsert for all surviving upserts of a table: every column as a `text[]` bind
    /// parameter unnested together, cast to the column type; skipped where the stored row or a recorded
    /// delete has a position at least as new. Returns `SELECT count(*)` of the rows written.
    func upsertQuery(_ changes: [NetEffect.Change], layout: PostgresTableLayout) throws(PostgresValueText.Invalid) -> PostgresQuery? {
        guard !changes.isEmpty else { return nil }
        // A row's fields are usually in the layout's column order, so the field at the column's index is tried first.
        let bound = try ChangeBinds(changes, columns: layout.columns, table: layout.qualifiedName) { change, index, column in
            Self.field(change.record.event.after, column.name, hint: index)
        }
        let p = ChangeBinds.positionAlias, k = ChangeBinds.keyAlias, tableName = bound.tableName
        let position = quoteIdentifier(Self.positionColumn)
        let source = bound.unnest(columnNames: layout.columns.map(\.name))
        let targetColumns = layout.columns.map { quoteIdentifier($0.name) } + [position]
        let selected = layout.columns.map { "src.\(quoteIdentifier($0.name))::\($0.type.castSQL)" } + ["src.\(p)"]
        let updates = layout.columns.filter { !layout.keyColumns.contains($0.name) }.map { "\(quoteIdentifier($0.name)) = EXCLUDED.\(quoteIdentifier($0.name))" }
            + ["\(position) = EXCLUDED.\(position)"]
        let sql = """
            WITH src AS (
              \(source)
            ), written AS (
              INSERT INTO \(layout.quotedName) AS t (\(targetColumns.joined(separator: ", ")))
              SELECT \(selected.joined(separator: ", ")) FROM src
              WHERE NOT EXISTS (SELECT 1 FROM \(deletedTable) d
                                WHERE d.table_name = $\(tableName) AND d.key = src.\(k) AND d.position >= src.\(p) COLLATE "C")
              ON CONFLICT (\(layout.keyColumns.map(quoteIdentifier).joined(separator: ", "))) DO UPDATE SET \(updates.joined(separator: ", "))
              WHERE t.\(position) < EXCLUDED.\(position)
              RETURNING 1
            )
            SELECT count(*) FROM written
            """
        return PostgresQuery(unsafeSQL: sql, binds: bound.binds)
    }

    /// One set-based delete for all surviving deletes of a table (only rows older than the delete), plus
    /// the deleted keys' positions in `sluice_deleted`. Returns `SELECT count(*)` of the rows deleted.
    func deleteQuery(_ changes: [NetEffect.Change], layout: PostgresTableLayout) throws(PostgresValueText.Invalid) -> PostgresQuery? {
        guard !changes.isEmpty else { return nil }
        var keyColumns: [PostgresTableLayout.Column] = []
        var conditions: [String] = []
        for key in layout.keyColumns {
            guard let column = layout.column(key) else {
                throw PostgresValueText.Invalid(column: key, detail: "the key column is not among the table's columns")
            }
            keyColumns.append(column)
            conditions.append("t.\(quoteIdentifier(key)) = src.\(quoteIdentifier(key))::\(column.type.castSQL)")
        }
        let bound = try ChangeBinds(changes, columns: keyColumns, table: layout.qualifiedName) { change, _, column in
            change.record.event.key[column.name] ?? change.record.event.before?[column.name]
        }
        let p = ChangeBinds.positionAlias, k = ChangeBinds.keyAlias, tableName = bound.tableName
        let position = quoteIdentifier(Self.positionColumn)
        let sql = """
            WITH src AS (
              \(bound.unnest(columnNames: layout.keyColumns))
            ), removed AS (
              DELETE FROM \(layout.quotedName) AS t USING src
              WHERE \(conditions.joined(separator: " AND ")) AND t.\(position) < src.\(p) COLLATE "C"
              RETURNING 1
            ), marked AS (
              INSERT INTO \(deletedTable) AS d (table_name, key, position)
              SELECT $\(tableName), src.\(k), src.\(p) FROM src
              ON CONFLICT (table_name, key) DO UPDATE SET position = EXCLUDED.position, deleted_at = now()
              WHERE d.position < EXCLUDED.position
            )
            SELECT count(*) FROM removed
            """
        return PostgresQuery(unsafeSQL: sql, binds: bound.binds)
    }

    /// The value of field `name` of `object`, trying the field at `hint` first.
    @inline(__always)
    static func field(_ object: JSONObject?, _ name: String, hint: Int) -> JSONValue? {
        guard let object else { return nil }
        let fields = object.fields
        if hint < fields.count, fields[hint].key == name { return fields[hint].value }
        return object[name]
    }

    /// Upserts the batch's next offsets for this group.
    func offsetsQuery(_ offsets: [TopicPartition: Int64]) -> PostgresQuery? {
        guard !offsets.isEmpty else { return nil }
        let sorted = offsets.sorted { $0.key < $1.key }
        let topics = sorted.map(\.key.topic)
        let partitions = sorted.map(\.key.partition)
        let next = sorted.map(\.value)
        return """
            INSERT INTO \(unescaped: offsetsTable) (group_id, topic, "partition", next_offset, updated_at)
            SELECT \(configuration.groupID), u.topic, u.p, u.o, now() FROM unnest(\(topics)::text[], \(partitions)::int4[], \(next)::int8[]) AS u(topic, p, o)
            ON CONFLICT (group_id, topic, "partition") DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at
            """
    }
}

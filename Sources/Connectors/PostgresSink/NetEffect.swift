import SluiceCore
import SluiceSinkKit

/// A table's events reduced to their net effect: per primary key, only the newest event (by source
/// position; on equal positions the later one) — an upsert of its `after` image or a delete.
///
/// A primary-key update arrives as a delete of the old key and a create of the new one: two keys, so it
/// reduces to a delete and an upsert. Deletes run before upserts (they touch different keys).
public struct NetEffect: Sendable {
    public struct Change: Sendable {
        /// The key as canonical JSON text (`{"id":1}`), as stored in `sluice_deleted`.
        public var keyText: String
        public var record: SinkRecord
    }

    public var upserts: [Change] = []
    public var deletes: [Change] = []

    public init(_ records: [SinkRecord]) {
        var newest: [String: Int] = [:]
        var order: [String] = []
        for (index, record) in records.enumerated() {
            let key = Self.keyText(record.event.key)
            if let current = newest[key] {
                if records[current].event.position <= record.event.position { newest[key] = index }
            } else {
                newest[key] = index
                order.append(key)
            }
        }
        for key in order {
            let record = records[newest[key]!]
            if record.event.op == .delete {
                deletes.append(Change(keyText: key, record: record))
            } else {
                upserts.append(Change(keyText: key, record: record))
            }
        }
    }

    public static func keyText(_ key: JSONObject) -> String {
        String(decoding: JSONValue.object(key).serialized(), as: UTF8.self)
    }
}

import SluiceCore
import SluiceSQLServer

/// A batch of change events sorted by what they feed, values converted to warehouse form.
public struct WarehouseBatch: Sendable, Hashable {
    public var customers: [DimensionChange] = []
    public var applications: [DimensionChange] = []
    public var applicationFacts: [FactChange] = []
    public var repayments: [FactChange] = []

    public init() {}

    public var isEmpty: Bool { customers.isEmpty && applications.isEmpty && repayments.isEmpty }

    /// Converts `events` (in arrival order). Throws for the first event that cannot be converted: the
    /// caller dead-letters it (`WarehouseSinkError.isPoison`).
    public init(events: [ChangeEvent], model: WarehouseModel) throws(WarehouseSinkError) {
        // A batch's events come from a few tables: the qualified name is built once per run of one table.
        var last: (table: TableID, name: String)?
        for event in events {
            let name: String
            if let last, last.table == event.table {
                name = last.name
            } else {
                name = event.table.qualifiedName
                last = (event.table, name)
            }
            try add(event, qualifiedTable: name, model: model)
        }
    }

    public mutating func add(_ event: ChangeEvent, model: WarehouseModel) throws(WarehouseSinkError) {
        try add(event, qualifiedTable: event.table.qualifiedName, model: model)
    }

    private mutating func add(_ event: ChangeEvent, qualifiedTable: String, model: WarehouseModel) throws(WarehouseSinkError) {
        let isDelete = event.op == .delete
        guard let row = isDelete ? event.before : event.after else {
            throw WarehouseSinkError(code: .invalidEvent, message: "a '\(event.op.rawValue)' event of \(event.table) has no row")
        }
        func key(_ column: String) throws(WarehouseSinkError) -> Int64 {
            guard let value = event.key[column]?.int64Value ?? row[column]?.int64Value else {
                throw WarehouseSinkError(code: .invalidEvent, message: "an event of \(event.table) has no integer \(column) in its key or row")
            }
            return value
        }
        func values(_ columns: [WarehouseColumn], spare: Int = 0) throws(WarehouseSinkError) -> [SQLServerValue] {
            var out: [SQLServerValue] = []
            out.reserveCapacity(columns.count + spare)
            for column in columns { out.append(try column.value(in: row)) }
            return out
        }
        func dimensionChange(_ dimension: DimensionModel) throws(WarehouseSinkError) -> DimensionChange {
            DimensionChange(key: try key(dimension.keyColumn), isDelete: isDelete, position: event.position,
                            commitTimeMs: event.commitTimeMs, tracked: try values(dimension.tracked),
                            type1: try values(dimension.type1))
        }
        switch qualifiedTable {
        case model.customersTable:
            customers.append(try dimensionChange(model.customer))
        case model.applicationsTable:
            applications.append(try dimensionChange(model.application))
            var factValues = try values(WarehouseModel.applicationFactColumns, spare: 1)
            // approved_amount: the requested amount once the application is approved.
            let status = factValues[2]
            factValues.insert(status == .string("approved") ? factValues[3] : .null, at: 4)
            applicationFacts.append(FactChange(key: try key("application_id"), isDelete: isDelete, position: event.position,
                                               commitTimeMs: event.commitTimeMs, values: factValues))
        case model.repaymentsTable:
            repayments.append(FactChange(key: try key("repayment_id"), isDelete: isDelete, position: event.position,
                                         commitTimeMs: event.commitTimeMs, values: try values(WarehouseModel.repaymentFactColumns)))
        default:
            throw WarehouseSinkError(
                code: .unknownTable,
                message: "events of \(event.table) have no place in the warehouse model (it holds \(model.customersTable), \(model.applicationsTable), \(model.repaymentsTable)); remove the topic from `topics`")
        }
    }
}

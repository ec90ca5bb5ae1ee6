/// Logger metadata keys of the warehouse sink, in one place.
enum WarehouseLoggingKeys {
    static let table = "sluice.warehouse.table"
    static let count = "sluice.warehouse.count"
    static let key = "sluice.warehouse.key"
    static let position = "sluice.warehouse.position"
    static let lastApplied = "sluice.warehouse.last_applied"
    static let group = "sluice.warehouse.group"
    static let error = "sluice.warehouse.error"
}

import Metrics

/// The warehouse sink's own metrics (swift-metrics; exported by the process's Prometheus registry),
/// beside the runtime's `SinkMetrics`. Handles are made once, for every table of the model.
///
/// - `sluice_warehouse_versions_created_total{group,table}` — SCD2 versions written, per dimension
/// - `sluice_warehouse_events_ignored_total{group,table}` — events not newer than the warehouse's
///   history for their key (late or replayed), per dimension and fact table
struct WarehouseMetrics: Sendable {
    private let versionsCreated: [String: Counter]
    private let ignored: [String: Counter]

    init(model: WarehouseModel, group: String) {
        let dimensions = [model.customer.table, model.application.table]
        versionsCreated = Dictionary(uniqueKeysWithValues: dimensions.map {
            ($0, Counter(label: "sluice_warehouse_versions_created_total", dimensions: [("group", group), ("table", $0)]))
        })
        ignored = Dictionary(uniqueKeysWithValues: (dimensions + [WarehouseModel.applicationFactTable, WarehouseModel.repaymentFactTable]).map {
            ($0, Counter(label: "sluice_warehouse_events_ignored_total", dimensions: [("group", group), ("table", $0)]))
        })
    }

    /// Counts what one applied batch did.
    func record(_ summary: WarehouseWriter.Summary) {
        for (table, count) in summary.versionsCreated where count > 0 { versionsCreated[table]?.increment(by: count) }
        for (table, count) in summary.ignored where count > 0 { ignored[table]?.increment(by: count) }
    }
}

import SluiceCore

/// Reduces a batch of changes to one upsert per fact row: the newest event newer than the row's last
/// applied position wins; older or equal ones are ignored (replays, late events).
public struct FactPlanner: Sendable {
    public init() {}

    /// - Parameters:
    ///   - lastPositions: the last applied position of each fact row the changes touch (absent: no row yet).
    ///   - changes: in arrival order.
    public func plan(lastPositions: [Int64: SourcePosition], changes: [FactChange]) -> FactPlan {
        var plan = FactPlan()
        var rows: [Int64: FactPlan.Row] = [:]
        var order: [Int64] = []
        for change in changes {
            let last = rows[change.key]?.lastPosition ?? lastPositions[change.key]
            if let last, change.position <= last {
                plan.ignored.append(.init(key: change.key, position: change.position, lastApplied: last))
                continue
            }
            plan.applied += 1
            if rows[change.key] == nil { order.append(change.key) }
            let recordedAt = rows[change.key]?.recordedAtMs ?? change.commitTimeMs
            rows[change.key] = .init(key: change.key, values: change.values, isDeleted: change.isDelete,
                                     recordedAtMs: recordedAt, lastPosition: change.position)
        }
        plan.upserts = order.compactMap { rows[$0] }
        return plan
    }
}

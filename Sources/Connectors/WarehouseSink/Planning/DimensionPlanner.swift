import SluiceCore
import SluiceSQLServer

/// Plans SCD Type 2 versions for a batch of changes, given each key's current version in the warehouse.
///
/// Each key's changes are folded in arrival order (Kafka keeps a key's order within its partition):
/// - a change whose position is not newer than the key's last applied position is ignored (a replay
///   or a late event): newer history is never rewritten;
/// - a create, update or snapshot read whose tracked values equal the current version's makes no
///   version: only type 1 values and the last position change;
/// - otherwise the current version is closed at the change's commit time and a new version opens
///   there; a delete opens a deleted version (a delete of a deleted key changes nothing);
/// - `valid_from` is the commit time, never earlier than the previous version's, so validity has no
///   gaps or overlaps: each version's `valid_to` is the next one's `valid_from`;
/// - type 1 values end as the key's newest values on every version.
/// The plan depends only on the events and the warehouse state, not on how events fall into batches.
public struct DimensionPlanner: Sendable {
    public var model: DimensionModel

    public init(model: DimensionModel) {
        self.model = model
    }

    private struct KeyState {
        var key: Int64
        var stored: DimensionVersion?
        var current: DimensionVersion?
        var closeStored: DimensionPlan.Close?
        var planned: [DimensionVersion] = []
        var type1: [SQLServerValue]?
        var last: SourcePosition?
    }

    /// - Parameters:
    ///   - current: the warehouse's current version of each key the changes touch (absent: no history).
    ///   - changes: in arrival order.
    public func plan(current: [Int64: DimensionVersion], changes: [DimensionChange]) -> DimensionPlan {
        var plan = DimensionPlan()
        // Each key's state in first-arrival order, found by index: mutated in place (a state copied out of
        // a dictionary and written back would copy its arrays on every change of the key).
        var index: [Int64: Int] = [:]
        index.reserveCapacity(changes.count)
        var states: [KeyState] = []
        states.reserveCapacity(changes.count)
        for change in changes {
            let slot: Int
            if let known = index[change.key] {
                slot = known
            } else {
                slot = states.count
                index[change.key] = slot
                let stored = current[change.key]
                states.append(KeyState(key: change.key, stored: stored, current: stored, type1: stored?.type1, last: stored?.lastPosition))
            }
            fold(change, into: &states[slot], plan: &plan)
        }
        for state in states {
            guard let last = state.last, let type1 = state.type1 else { continue }
            if let close = state.closeStored { plan.closes.append(close) }
            for version in state.planned {
                var version = version
                version.type1 = type1
                plan.inserts.append(version)
            }
            if let stored = state.stored {
                let type1Changed = type1 != stored.type1
                let storedStaysCurrent = state.closeStored == nil
                if type1Changed || (storedStaysCurrent && last != stored.lastPosition) {
                    plan.type1Updates.append(.init(key: state.key, type1: type1, lastPosition: last, allVersions: type1Changed))
                }
            }
        }
        return plan
    }

    /// Folds one change into its key's state (the rules above).
    private func fold(_ change: DimensionChange, into state: inout KeyState, plan: inout DimensionPlan) {
        if let last = state.last, change.position <= last {
            plan.ignored.append(.init(key: change.key, position: change.position, lastApplied: last))
            return
        }
        plan.applied += 1
        state.last = change.position
        state.type1 = change.type1
        if var current = state.current {
            let unchanged = current.isDeleted ? change.isDelete : (!change.isDelete && current.tracked == change.tracked)
            if unchanged {
                current.lastPosition = change.position
                state.current = current
                if current.surrogateKey == nil { state.planned[state.planned.count - 1] = current }
                return
            }
            let validFrom = max(change.commitTimeMs, current.validFromMs)
            current.validToMs = validFrom
            current.lastPosition = change.position
            if current.surrogateKey != nil {
                state.closeStored = .init(key: change.key, versionID: current.versionID, validToMs: validFrom,
                                          lastPosition: change.position)
            } else {
                state.planned[state.planned.count - 1] = current
            }
            state.current = open(change, validFromMs: validFrom)
        } else {
            state.current = open(change, validFromMs: change.commitTimeMs)
        }
        state.planned.append(state.current!)
    }

    private func open(_ change: DimensionChange, validFromMs: Int64) -> DimensionVersion {
        DimensionVersion(
            surrogateKey: nil,
            versionID: VersionID.make(table: model.table, key: change.key, position: change.position),
            key: change.key, tracked: change.tracked, type1: change.type1,
            validFromMs: validFromMs, validToMs: nil, isDeleted: change.isDelete,
            sourcePosition: change.position, lastPosition: change.position)
    }
}

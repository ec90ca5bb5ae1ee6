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
        var states: [Int64: KeyState] = [:]
        var order: [Int64] = []
        for change in changes {
            var state = states[change.key] ?? {
                order.append(change.key)
                let stored = current[change.key]
                return KeyState(stored: stored, current: stored, type1: stored?.type1, last: stored?.lastPosition)
            }()
            defer { states[change.key] = state }
            if let last = state.last, change.position <= last {
                plan.ignored.append(.init(key: change.key, position: change.position, lastApplied: last))
                continue
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
                    continue
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
        for key in order {
            guard let state = states[key], let last = state.last, let type1 = state.type1 else { continue }
            if let close = state.closeStored { plan.closes.append(close) }
            plan.inserts += state.planned.map { version in
                var version = version
                version.type1 = type1
                return version
            }
            if let stored = state.stored {
                let type1Changed = type1 != stored.type1
                let storedStaysCurrent = state.closeStored == nil
                if type1Changed || (storedStaysCurrent && last != stored.lastPosition) {
                    plan.type1Updates.append(.init(key: key, type1: type1, lastPosition: last, allVersions: type1Changed))
                }
            }
        }
        return plan
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

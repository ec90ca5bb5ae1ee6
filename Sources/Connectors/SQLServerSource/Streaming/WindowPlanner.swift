import SluiceCore

/// Decides which capture instances a streaming window [from, to] reads — a pure function of the
/// catalog's instances and the stored offset, so it is unit-tested without a server:
/// - each instance from `max(from, its start_lsn)`; an instance superseded by a newer one of the same
///   table (a schema change's second instance) only up to where the newer one starts (`stop`), and not at
///   all once `from` passed that point;
/// - an instance read before whose low end (moved by the cleanup job) is past both `from` and where it
///   was first read from is *purged*: changes in between may be gone;
/// - a newer instance not read before is a *switch* (announced with an ALTER schema-change event).
enum WindowPlanner {
    struct Plan: Sendable {
        var queries: [ChangeTableQuery]
        /// Purged instances and the LSN that was needed.
        var purged: [(instance: CaptureInstance, needed: LSN)]
        var switched: [CaptureInstance]
    }

    static func plan(_ instances: [CaptureInstance], offset: SourceOffset, from: LSN, to: LSN) -> Plan {
        var byTable: [TableID: [CaptureInstance]] = [:]
        for instance in instances { byTable[instance.table, default: []].append(instance) }
        var plan = Plan(queries: [], purged: [], switched: [])
        for (_, list) in byTable.sorted(by: { $0.key < $1.key }) {
            for (i, instance) in list.enumerated() {
                let stop = i + 1 < list.count ? list[i + 1].startLSN : nil
                if let stop, from >= stop { continue }  // superseded by the newer instance
                let recorded = offset.captureInstances[instance.name]
                // The cleanup job moved the instance's low end past both the next LSN needed and where
                // this instance was first read from: changes in between may be gone.
                if let recorded, instance.startLSN > from, instance.startLSN > recorded {
                    plan.purged.append((instance, from))
                    continue
                }
                let lower = max(from, instance.startLSN)
                if lower > to { continue }
                if recorded == nil && i > 0 { plan.switched.append(instance) }
                plan.queries.append(ChangeTableQuery(instance: instance, from: lower, to: to, stop: stop))
            }
        }
        return plan
    }
}

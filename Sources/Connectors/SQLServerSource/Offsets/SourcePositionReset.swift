import SluiceCore
import SluiceSQLServer

/// What `sluice offsets reset <source.json> --to …` stores for one database, checked against its CDC
/// catalog. The stored offset means "everything committed at or below this LSN is published", the
/// same `processed_through` that `sluice offsets show` prints, so a reset to a value `show` printed
/// earlier puts the source back exactly there.
///
/// - `earliest`: the stored offset is removed, so the next start is a first start: it snapshots per
///   `snapshot.mode` (refused under `no_data`, which never snapshots);
/// - `latest`: everything up to the current `sys.fn_cdc_get_max_lsn()` counts as published; streaming
///   resumes with the next change committed after it;
/// - an LSN (`0000002a:00000d18:0003` or 20 hex digits): streaming resumes with the first change
///   committed after it. Refused past the max LSN, and where the cleanup job already purged changes
///   after it from a table's capture instance.
public struct SourcePositionReset: Sendable {
    public enum Target: Hashable, Sendable, CustomStringConvertible {
        case earliest
        case latest
        case position(LSN)

        /// `earliest`, `latest` or an LSN; nil for anything else.
        public init?(_ text: String) {
            switch text {
            case "earliest": self = .earliest
            case "latest": self = .latest
            default:
                guard let lsn = LSN(text) else { return nil }
                self = .position(lsn)
            }
        }

        public var description: String {
            switch self {
            case .earliest: "earliest"
            case .latest: "latest"
            case .position(let lsn): lsn.description
            }
        }
    }

    /// One database's reset: the offset stored now and the one the reset stores (nil: removed).
    public struct Plan: Sendable {
        public let database: String
        public let stored: SourceOffset?
        public let new: SourceOffset?
        /// What the source does at its next start, in words.
        public let effect: String
    }

    public struct Refusal: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    public let configuration: SQLServerSourceConfiguration

    public init(configuration: SQLServerSourceConfiguration) {
        self.configuration = configuration
    }

    /// The plan for `database` (connected to it), given its stored offset.
    public func plan(_ target: Target, database: String, stored: SourceOffset?, connection: SQLServerConnection) async throws -> Plan {
        let mode = SQLServerTypeMapping.DecimalMode(rawValue: configuration.decimalHandlingMode.rawValue) ?? .string
        let catalog = CDCCatalog(database: database, mapping: mode, keyOverrides: configuration.messageKeyColumns)
        switch target {
        case .earliest:
            switch configuration.snapshotMode {
            case .noData, .schemaOnly:
                throw Refusal(description: "--to earliest re-snapshots, but snapshot.mode=\(configuration.snapshotMode.rawValue) never reads existing rows: set snapshot.mode to initial or when_needed first, or reset --to latest")
            case .initial, .initialOnly, .whenNeeded, .always:
                return Plan(database: database, stored: stored, new: nil,
                            effect: "stored position removed: the next start snapshots \(database) (snapshot.mode=\(configuration.snapshotMode.rawValue)), then streams")
            }
        case .latest:
            guard let max = try await catalog.maxLSN(connection) else {
                throw Refusal(description: "\(database) has no harvested change yet (sys.fn_cdc_get_max_lsn() is NULL): nothing to move past; is the capture job running?")
            }
            let instances = try await includedInstances(catalog, connection)
            return Plan(database: database, stored: stored, new: offset(through: max, stored: stored, instances: instances),
                        effect: "streams from the first change committed after \(max) (the current max LSN)")
        case .position(let lsn):
            guard let max = try await catalog.maxLSN(connection) else {
                throw Refusal(description: "\(database) has no harvested change yet (sys.fn_cdc_get_max_lsn() is NULL); is the capture job running?")
            }
            guard lsn <= max else {
                throw Refusal(description: "\(lsn) is past the newest change of \(database) (max LSN \(max)); use an LSN from `sluice offsets show` or an event's source.commit_lsn")
            }
            let next = try await catalog.increment(connection, lsn)
            let instances = try await includedInstances(catalog, connection)
            // The streamer's purge rule (DatabaseStreamer.plan): an instance read before whose low end has
            // moved past the next LSN needed lost the changes in between to the cleanup job.
            let purged = instances.filter { instance in
                guard instance.startLSN > next else { return false }
                guard let recorded = stored?.captureInstances[instance.name] else {
                    // Never streamed: its changes before startLSN are not available (purged, or the
                    // instance is newer); only a table added after `lsn` may start later.
                    return isOldestOfItsTable(instance, in: instances)
                }
                return instance.startLSN > recorded
            }
            if !purged.isEmpty {
                let detail = purged.map { "\($0.table.qualifiedName) (capture instance \($0.name)) keeps changes from \($0.startLSN) only" }
                    .joined(separator: "; ")
                throw Refusal(description: "changes after \(lsn) are no longer in \(database): \(detail). Choose an LSN at or after that, or --to earliest to snapshot again")
            }
            return Plan(database: database, stored: stored, new: offset(through: lsn, stored: stored, instances: instances),
                        effect: "streams from the first change committed after \(lsn)")
        }
    }

    /// Everything through `lsn` published; the snapshot kept as completed when it was.
    func offset(through lsn: LSN, stored: SourceOffset?, instances: [CaptureInstance]) -> SourceOffset {
        let snapshot: SourceOffset.SnapshotState
        if case .completed(let fence)? = stored?.snapshot { snapshot = .completed(fence: fence) } else { snapshot = .skipped(at: lsn) }
        var recorded: [String: LSN] = [:]
        for instance in instances {
            if instance.startLSN <= lsn {
                recorded[instance.name] = lsn
            } else if let earlier = stored?.captureInstances[instance.name] {
                recorded[instance.name] = earlier
            }
        }
        return SourceOffset(position: nil, processedThrough: lsn, snapshot: snapshot, captureInstances: recorded)
    }

    private func includedInstances(_ catalog: CDCCatalog, _ connection: SQLServerConnection) async throws -> [CaptureInstance] {
        let filter = TableFilter(include: configuration.tableIncludeList, exclude: configuration.tableExcludeList)
        return try await catalog.captureInstances(connection).filter { filter.matches($0.table) }
    }

    private func isOldestOfItsTable(_ instance: CaptureInstance, in instances: [CaptureInstance]) -> Bool {
        !instances.contains { $0.table == instance.table && $0.startLSN < instance.startLSN }
    }
}

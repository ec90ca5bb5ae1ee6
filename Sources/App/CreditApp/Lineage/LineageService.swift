import Foundation
import Logging
import SluiceCore

/// Builds the live lineage graph for a request: reads the connector files and dbt's manifest afresh
/// (so a `make dbt` or an edited connector file shows without a restart), the live schemas of staging
/// and the replica, and each node's cheap live figure (rows; replica lag; sink consumer lag).
/// Whatever cannot be read becomes a problem line on the graph, never an error page.
public struct LineageService: Sendable {
    let configuration: CreditAppConfiguration
    let staging: StagingStore
    let catalog: ReplicaCatalog
    let freshness: ReplicaFreshness
    let monitor: StatusMonitor
    let warehouse: WarehouseStore
    let environment: [String: String]
    let logger: Logger

    public init(configuration: CreditAppConfiguration, staging: StagingStore, catalog: ReplicaCatalog, freshness: ReplicaFreshness,
                monitor: StatusMonitor, warehouse: WarehouseStore, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) {
        self.configuration = configuration
        self.staging = staging
        self.catalog = catalog
        self.freshness = freshness
        self.monitor = monitor
        self.warehouse = warehouse
        self.environment = environment
        self.logger = logger
    }

    /// The connectors whose files the lineage page reads (each adds its own part of the graph).
    static let connectorConfigurations: [any ConnectorConfiguration.Type] = [
        SQLServerSourceConfiguration.self, PostgresSinkConfiguration.self, WarehouseSinkConfiguration.self,
    ]

    /// Parses the connector files into configurations; a file that cannot be read is a problem line.
    public static func loadConnectors(_ paths: [String], environment: [String: String], into inputs: inout LineageDerivation.Inputs) {
        for path in paths {
            do {
                switch try ConnectorFile.load(path: path, environment: environment, as: Self.connectorConfigurations) {
                case let source as SQLServerSourceConfiguration: inputs.sources.append(source)
                case let sink as PostgresSinkConfiguration: inputs.replicaSinks.append(sink)
                case let sink as WarehouseSinkConfiguration: inputs.warehouseSinks.append(sink)
                default: break
                }
            } catch {
                inputs.problems.append("connector file \(path): \(error) (set SLUICE_CONNECTORS to the files `sluice run` runs)")
            }
        }
    }

    /// The first manifest path that exists, parsed; nil (and no problem) when none exists.
    public static func loadManifest(_ paths: [String], into inputs: inout LineageDerivation.Inputs) -> String? {
        for path in paths where FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                inputs.problems.append("dbt manifest \(path): cannot be read")
                return nil
            }
            do {
                inputs.manifest = try JSONValue.parse(Array(data))
                return path
            } catch {
                inputs.problems.append("dbt manifest \(path): not JSON (\(error)); regenerate it with `make dbt`")
                return nil
            }
        }
        return nil
    }

    public func graph() async -> LineageGraph {
        var inputs = LineageDerivation.Inputs()
        Self.loadConnectors(configuration.connectorPaths, environment: environment, into: &inputs)
        _ = Self.loadManifest(configuration.dbtManifestPaths, into: &inputs)
        async let lag = freshness.lagMilliseconds()
        do {
            inputs.sourceColumns = try await staging.catalog()
        } catch {
            inputs.problems.append("staging catalog unreadable (\(error)); source tables are taken from the include list")
        }
        // First pass: which replica schemas the sinks write, to read only their columns.
        let schemas = Set(LineageDerivation.derive(inputs).nodes.filter { $0.kind == .replicaTable }
            .compactMap { $0.name.split(separator: ".").first.map(String.init) })
        do {
            inputs.replicaColumns = try await catalog.columns(schemas: schemas.sorted())
        } catch {
            inputs.problems.append("replica schema unreadable (\(error)); replica columns are missing")
        }
        var graph = LineageDerivation.derive(inputs)
        // Live figures.
        let stagingCounts = (try? await staging.rowCounts()) ?? [:]
        let replicaTables = graph.nodes.filter { $0.kind == .replicaTable && inputs.replicaColumns[$0.name] != nil }.map(\.name)
            + graph.nodes.filter { $0.kind == .dbtModel && $0.materialized == "table" }.map(\.name)
        let replicaCounts = (try? await catalog.rowCounts(replicaTables)) ?? [:]
        let replicaLag = await lag
        // Warehouse tables: `CreditWarehouse.dw.dim_customer` → `dw.dim_customer` in the warehouse database.
        let warehouseNames = graph.nodes.filter { $0.kind == .warehouseTable }.map { n in n.name.split(separator: ".").dropFirst().joined(separator: ".") }
        let warehouseCounts = (try? await warehouse.rowCounts(warehouseNames)) ?? [:]
        let consumerLag = monitor.pipeline.consumerLag
        for i in graph.nodes.indices {
            let node = graph.nodes[i]
            switch node.kind {
            case .sourceTable:
                graph.nodes[i].rows = stagingCounts[String(node.name.split(separator: ".").last ?? "")]
            case .replicaTable:
                graph.nodes[i].rows = replicaCounts[node.name]
                graph.nodes[i].lagMilliseconds = replicaLag
            case .topic:
                // Messages the slowest sink reading this topic is behind.
                let lags = consumerLag.values.compactMap { $0[node.name] }
                graph.nodes[i].consumerLag = lags.max().map { Int($0) }
            case .dbtModel:
                graph.nodes[i].rows = replicaCounts[node.name]
            case .warehouseTable:
                graph.nodes[i].rows = warehouseCounts[node.name.split(separator: ".").dropFirst().joined(separator: ".")]
            }
        }
        return graph
    }
}

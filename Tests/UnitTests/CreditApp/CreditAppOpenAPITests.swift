import Foundation
import Hummingbird
import Logging
import Prometheus
import Testing
import SluiceCore
@testable import SluiceCreditApp
import SluiceSQLServer

/// The hand-maintained OpenAPI document names exactly the JSON API and operations routes the router
/// serves (the pages are HTML frames and not part of the API).
@Suite struct CreditAppOpenAPITests {
    static func routes() async throws -> Set<String> {
        let configuration = CreditAppConfiguration(
            staging: try SQLServerConfiguration(url: "mssql://u:p@127.0.0.1:1/CreditStaging"),
            warehouse: try SQLServerConfiguration(url: "mssql://u:p@127.0.0.1:1/CreditWarehouse"),
            replica: try PostgresURL.parse("postgres://u:p@127.0.0.1:1/credit_app").get())
        // Nothing connects: the stores connect on first use, the Postgres client only when run.
        let d = try await CreditApp.makeDependencies(configuration: configuration, registry: PrometheusCollectorRegistry(),
                                                     health: HealthRegistry(), logger: Logger(label: "test"))
        let router = CreditApp.buildRouter(d)
        return Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
    }

    static func documented() throws -> Set<String> {
        let doc = try JSONValue.parse(Array(try OpenAPIController.document()))
        #expect(doc["openapi"]?.stringValue == "3.1.0")
        var out = Set<String>()
        for (path, operations) in doc["paths"]?.objectValue ?? [:] {
            for (method, _) in operations.objectValue ?? [:] where ["get", "post", "put", "patch", "delete"].contains(method) {
                out.insert("\(method.uppercased()) \(path)")
            }
        }
        return out
    }

    static func isPage(_ route: String) -> Bool {
        let path = route.split(separator: " ", maxSplits: 1)[1]
        return !(path.hasPrefix("/api/") || path.hasPrefix("/health/") || path == "/metrics")
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let routes = try await Self.routes()
        let api = routes.filter { !Self.isPage($0) }
        let documented = try Self.documented()
        #expect(api.subtracting(documented).isEmpty, "routed but not documented: \(api.subtracting(documented).sorted())")
        #expect(documented.subtracting(api).isEmpty, "documented but not routed: \(documented.subtracting(api).sorted())")
        #expect(api.contains("POST /api/v1/applications/{id}/decision"))
        #expect(routes.contains("GET /dashboard"))  // the pages are routed too, outside the API
    }
}

import Hummingbird
import SluiceCore

/// `/api/v1/customers`: search and detail from the replica; the address and income versions from
/// the warehouse (`dw.dim_customer`).
public struct CustomersController: Sendable {
    let replica: ReplicaStore
    let warehouse: WarehouseStore
    let freshness: ReplicaFreshness

    public init(replica: ReplicaStore, warehouse: WarehouseStore, freshness: ReplicaFreshness) {
        self.replica = replica
        self.warehouse = warehouse
        self.freshness = freshness
    }

    public func addRoutes(to group: RouterGroup<CreditRequestContext>) {
        group.get("customers", use: list)
        group.get("customers/{id}", use: detail)
    }

    @Sendable func list(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let p = ApplicationsController.queryParameters(request)
        var errors: [(String, String)] = []
        let q = p["q"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0.trimmingCharacters(in: .whitespaces) }
        if let q, q.count > 200 { errors.append(("q", "must be at most 200 characters")) }
        if let q, q.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) { errors.append(("q", "must not contain control characters")) }
        var page = 1, pageSize = 20
        if let t = p["page"], !t.isEmpty { if let n = Int(t), n >= 1, n <= 100_000 { page = n } else { errors.append(("page", "must be a whole number from 1")) } }
        if let t = p["page_size"], !t.isEmpty { if let n = Int(t), (1...100).contains(n) { pageSize = n } else { errors.append(("page_size", "must be a whole number from 1 to 100")) } }
        if !errors.isEmpty { throw ApplicationsController.validationError(ValidationErrors(errors)) }
        async let lag = freshness.lagMilliseconds()
        let result = try await replica.customers(query: q, page: page, pageSize: pageSize)
        return JSONResponse.make(.ok, .object([
            "items": .array(result.items.map(\.json)), "page": .int(page), "page_size": .int(pageSize), "total": .int(result.total),
            "replica_lag_ms": (await lag).map { .int($0) } ?? .null,
        ]))
    }

    @Sendable func detail(_ request: Request, context: CreditRequestContext) async throws -> Response {
        guard let text = context.parameters.get("id"), text.count <= 9, text.allSatisfy(\.isASCIIDigit), let id = Int(text), id > 0 else {
            throw APIError(.notFound, "no such customer: the id must be a positive whole number")
        }
        guard let customer = try await replica.customer(id: id) else { throw APIError(.notFound, "no customer \(id) in the replica") }
        var object = customer.json.objectValue ?? JSONObject()
        object["applications"] = .array(try await replica.applications(customerID: id).map(\.json))
        do {
            object["history"] = .array(try await warehouse.customerHistory(id: id).map { $0.json(numeric: ["monthly_income"]) })
        } catch {
            object["history"] = .array([])
            object["history_error"] = .string("the warehouse is unreachable; history is missing")
        }
        return JSONResponse.make(.ok, .object(object))
    }
}

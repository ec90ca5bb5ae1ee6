import Foundation
import Hummingbird

/// `GET /api/v1/openapi.json`: the hand-maintained OpenAPI 3.1 document of the API (a resource of this
/// module; a unit test checks it names exactly the router's routes).
public struct OpenAPIController: Sendable {
    public init() {}

    public static func document() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else {
            throw APIError(.internalServerError, "openapi.json is missing from the app's resources")
        }
        return try Data(contentsOf: url)
    }

    public func addRoutes(to group: RouterGroup<CreditRequestContext>) {
        group.get("openapi.json") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try Self.document())))
        }
    }
}

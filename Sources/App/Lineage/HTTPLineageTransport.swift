import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// OpenLineage's HTTP transport: `POST <url>/api/v1/lineage` with the event as `application/json`, as
/// Marquez and other OpenLineage backends accept; any 2xx is success. Non-blocking (AsyncHTTPClient on
/// NIO's event loops).
public struct HTTPLineageTransport: LineageTransport {
    public let url: String
    public let timeout: TimeAmount
    let apiKey: String?

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - baseURL: the backend, e.g. `http://localhost:5000`; `/api/v1/lineage` is appended unless the URL
    ///     already ends with it.
    ///   - apiKey: sent as `Authorization: Bearer <key>` (OpenLineage's `api_key` auth) when given.
    public init(baseURL: String, apiKey: String? = nil, timeout: TimeAmount = .seconds(5)) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.url = base.hasSuffix("/api/v1/lineage") ? base : base + "/api/v1/lineage"
        self.apiKey = apiKey
        self.timeout = timeout
    }

    public var target: String { url }

    public func send(_ event: [UInt8]) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "sluice-openlineage")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(bytes: event))
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let body = try? await response.body.collect(upTo: 4096)
        guard (200..<300).contains(response.status.code) else {
            let text = body.map { String(buffer: $0) } ?? ""
            throw Failure(description: "\(url) answered \(response.status.code) \(response.status.reasonPhrase)\(text.isEmpty ? "" : ": " + text)")
        }
    }
}

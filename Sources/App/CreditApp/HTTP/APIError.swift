import Hummingbird
import SluiceCore

/// An error answered as `{"error": "…", "fields": {"name": "problem", …}?}` with its status.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var fields: [(String, String)]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, fields: [(String, String)] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = headers
    }

    public var json: JSONValue {
        var object: JSONObject = ["error": .string(message)]
        if !fields.isEmpty {
            object["fields"] = .object(JSONObject(fields.map { (key: $0.0, value: JSONValue.string($0.1)) }))
        }
        return .object(object)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(status, json)
        response.headers.append(contentsOf: headers)
        return response
    }

    public var description: String { "\(status.code) \(message)" }
}

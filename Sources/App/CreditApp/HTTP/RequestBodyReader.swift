import Foundation
import Hummingbird
import SluiceCore

/// Reads request bodies: JSON (only as `application/json`: 415 otherwise) and HTML forms.
public enum RequestBodyReader {
    public static let maxSize = 64 * 1024

    public static func isJSON(_ request: Request) -> Bool {
        mediaType(request) == "application/json"
    }

    public static func isForm(_ request: Request) -> Bool {
        mediaType(request) == "application/x-www-form-urlencoded"
    }

    static func mediaType(_ request: Request) -> String? {
        request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    /// The JSON object of the body; 415 unless `Content-Type: application/json`, 400 when it is not a
    /// JSON object.
    public static func jsonObject(_ request: inout Request) async throws -> JSONObject {
        guard isJSON(request) else {
            throw APIError(.unsupportedMediaType, "send the body as JSON with Content-Type: application/json")
        }
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxSize) } catch {
            throw APIError(.contentTooLarge, "the body is larger than \(maxSize) bytes")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(buffer.readableBytesView) } catch {
            throw APIError(.badRequest, "the body is not valid JSON (\(error))")
        }
        guard case .object(let object) = value else { throw APIError(.badRequest, "the body must be a JSON object") }
        return object
    }

    /// The fields of an `application/x-www-form-urlencoded` body (the last value of a repeated name wins).
    public static func form(_ request: inout Request) async throws -> [String: String] {
        guard isForm(request) else {
            throw APIError(.unsupportedMediaType, "send the form as application/x-www-form-urlencoded")
        }
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxSize) } catch {
            throw APIError(.contentTooLarge, "the form is larger than \(maxSize) bytes")
        }
        return parseForm(String(buffer: buffer))
    }

    public static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let key = decode(kv[0])
            fields[key] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return fields
    }
}

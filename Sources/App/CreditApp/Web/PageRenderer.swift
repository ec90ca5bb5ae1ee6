import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Renders the app's pages from the Mustache templates in the module's resources (HTML-escaped by
/// default; only server-built SVG charts are inserted unescaped, and they escape their own labels).
public struct PageRenderer: Sendable {
    let library: MustacheLibrary

    public init(library: MustacheLibrary) { self.library = library }

    public static func load() async throws -> PageRenderer {
        guard let directory = Bundle.module.resourceURL?.appendingPathComponent("templates").path else {
            throw APIError(.internalServerError, "the app's templates are missing from its resources")
        }
        return PageRenderer(library: try await MustacheLibrary(directory: directory))
    }

    /// A page: `template` rendered with `values` plus the layout's values (user, CSRF token, freshness).
    public func page(_ template: String, title: String, values: [String: Any], context: CreditRequestContext,
                     status: HTTPResponse.Status = .ok, freshness: String? = nil, notice: String? = nil, refresh: Int? = nil) -> Response {
        var object = values
        object["title"] = title
        if let user = context.identity {
            object["user"] = ["username": user.username, "role": user.role.rawValue,
                              "is_approver": user.role == .approver, "may_submit": user.role.maySubmit]
        }
        object["csrf_token"] = context.csrfToken
        if let freshness { object["freshness"] = freshness }
        if let notice { object["notice"] = notice }
        if let refresh { object["refresh"] = refresh }
        let html = library.render(object, withTemplate: template) ?? "<!doctype html><title>\(title)</title><p>template \(template) missing"
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Content-Security-Policy")!] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    public func errorPage(status: HTTPResponse.Status, message: String, context: CreditRequestContext) -> Response {
        page("error", title: "\(status.code) \(status.reasonPhrase)", values: ["status": status.code, "message": message],
             context: context, status: status)
    }
}

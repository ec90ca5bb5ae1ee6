import Hummingbird
import Logging

/// Every error leaves as the app's error shape: JSON `{"error": …}` under `/api/`, a short HTML page
/// elsewhere. Unexpected errors are logged and answered 500 without internals (no SQL text, no stack).
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = CreditRequestContext
    let pages: PageRenderer

    public init(pages: PageRenderer) { self.pages = pages }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            if request.uri.path.hasPrefix("/api/") { throw error }
            return pages.errorPage(status: error.status, message: error.message, context: context)
        } catch let error as HTTPError {
            let message = error.body ?? (error.status == .notFound ? "no such page or resource: \(request.uri.path)" : error.status.reasonPhrase)
            if request.uri.path.hasPrefix("/api/") { throw APIError(error.status, message, headers: error.headers) }
            return pages.errorPage(status: error.status, message: message, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            let message = "internal error; the app's log has the details"
            if request.uri.path.hasPrefix("/api/") { throw APIError(.internalServerError, message) }
            return pages.errorPage(status: .internalServerError, message: message, context: context)
        }
    }
}

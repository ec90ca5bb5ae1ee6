import Hummingbird
import Logging
import PostgresNIO

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
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
            // The replica's tables are created by the Postgres sink from the first events.
            let message = "the replica has no tables yet: run the Postgres sink (sluice run connectors/replica-postgres.json) and wait for its snapshot"
            context.logger.warning("replica table missing", metadata: ["error": "\(error.serverInfo?[.message] ?? "")"])
            if request.uri.path.hasPrefix("/api/") { throw APIError(.serviceUnavailable, message) }
            return pages.errorPage(status: .serviceUnavailable, message: message, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            let message = "internal error; the app's log has the details"
            if request.uri.path.hasPrefix("/api/") { throw APIError(.internalServerError, message) }
            return pages.errorPage(status: .internalServerError, message: message, context: context)
        }
    }
}

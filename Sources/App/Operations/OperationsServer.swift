import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import SluiceCore

/// The operations endpoints every long-running Sluice process serves:
/// - `GET /metrics` — Prometheus text format (everything recorded through swift-metrics, plus the
///   components' health as `sluice_component_up` / `sluice_component_status`, see `HealthMetrics`);
/// - `GET /health/live` — 200 while the process runs;
/// - `GET /health/ready` — 200 when every component is up, else 503; JSON body with each component's
///   status and reason;
/// - `POST /signals` — when the process runs a SQL Server source: signals for it (`addSignalRoutes`).
public enum OperationsServer {
    /// A Hummingbird application (a `Service`) serving the endpoints on `host:port`; runs the given
    /// services beside it in its service group.
    public static func application(
        host: String, port: Int, registry: PrometheusCollectorRegistry, health: HealthRegistry,
        services: [any Service] = [], signals: SourceSignalInbox? = nil, signalsToken: String? = nil, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        addRoutes(to: router, registry: registry, health: health)
        if let signals { addSignalRoutes(to: router, inbox: signals, token: signalsToken) }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "sluice"),
            services: services,
            onServerRunning: { channel in
                // With port 0 this names the port the system chose (tests read it from the log).
                logger.info("Operations endpoints listening on http://\(host):\(channel.localAddress?.port ?? port)")
            },
            logger: logger)
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.serialized())))
    }
}

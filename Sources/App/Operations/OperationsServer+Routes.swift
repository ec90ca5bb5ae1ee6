import Hummingbird
import Prometheus
import SluiceCore

extension OperationsServer {
    /// Adds `/metrics`, `/health/live` and `/health/ready` to a router of any request context: the
    /// routes of ``application(host:port:registry:health:services:logger:)``, and of a process that
    /// serves them beside its own routes (`sluice app`).
    public static func addRoutes<Context: RequestContext>(to router: Router<Context>, registry: PrometheusCollectorRegistry,
                                                          health: HealthRegistry) {
        let healthMetrics = HealthMetrics(registry: registry, health: health)
        router.get("/metrics") { _, _ -> Response in
            healthMetrics.refresh()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("/health/live") { _, _ -> Response in
            json(.ok, .object(["status": .string("up")]))
        }
        router.get("/health/ready") { _, _ -> Response in
            json(health.isReady ? .ok : .serviceUnavailable, health.readinessJSON)
        }
    }
}

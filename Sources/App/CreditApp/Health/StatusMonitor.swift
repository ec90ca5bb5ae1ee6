import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import SluiceCore

/// A `Service` that every two seconds checks what the app depends on and records it:
/// - staging, replica and warehouse reachability into the `HealthRegistry` (components `staging`,
///   `replica`, `warehouse`; `/health/ready` is 200 only when all three are up);
/// - when a pipeline URL is configured, the pipeline's `/metrics` and `/health/ready` for the dashboard;
/// - at start and then every five minutes, `housekeeping` (expired sessions and old login failures are
///   deleted).
public final class StatusMonitor: Service, Sendable {
    let staging: StagingStore
    let replica: ReplicaStore
    let warehouse: WarehouseStore
    let health: HealthRegistry
    let pipelineURL: URL?
    let interval: Duration
    let logger: Logger
    let housekeeping: @Sendable () async throws -> Void
    private let pipelineState = NIOLockedValueBox(PipelineStatus())

    public init(staging: StagingStore, replica: ReplicaStore, warehouse: WarehouseStore, health: HealthRegistry,
                pipelineURL: String?, interval: Duration = .seconds(2), logger: Logger,
                housekeeping: @escaping @Sendable () async throws -> Void = {}) {
        self.housekeeping = housekeeping
        self.staging = staging
        self.replica = replica
        self.warehouse = warehouse
        self.health = health
        self.pipelineURL = pipelineURL.flatMap { URL(string: $0.hasSuffix("/") ? String($0.dropLast()) : $0) }
        self.interval = interval
        self.logger = logger
        for c in ["staging", "replica", "warehouse"] { health.set(c, .starting) }
    }

    public var pipeline: PipelineStatus { pipelineState.withLockedValue { $0 } }

    /// Polls until graceful shutdown (which cancels the wait between polls).
    public func run() async {
        await cancelWhenGracefulShutdown {
            var lastHousekeeping: ContinuousClock.Instant?
            while !Task.isCancelled {
                await self.checkOnce()
                if lastHousekeeping.map({ ContinuousClock.now - $0 >= .seconds(300) }) ?? true {
                    lastHousekeeping = ContinuousClock.now
                    do { try await self.housekeeping() } catch { self.logger.warning("housekeeping failed: \(error)") }
                }
                do { try await Task.sleep(for: self.interval) } catch { return }
            }
        }
    }

    public func checkOnce() async {
        await check("staging") { try await self.staging.ping() }
        await check("replica") { try await self.replica.ping() }
        await check("warehouse") { try await self.warehouse.ping() }
        if pipelineURL != nil { await pollPipeline() }
    }

    private func check(_ component: String, _ probe: @Sendable () async throws -> Void) async {
        do {
            try await probe()
            if health.snapshot[component] != .up { logger.info("\(component) reachable") }
            health.set(component, .up)
        } catch {
            let reason = "\(component) unreachable: \(error)"
            if health.snapshot[component] == .up { logger.warning("\(reason)") }
            health.set(component, .down(reason))
        }
    }

    /// One GET of the pipeline's operations endpoint (AsyncHTTPClient: non-blocking, no
    /// FoundationNetworking, so the binary links statically without libcurl).
    private func fetch(_ path: String) async throws -> Data {
        guard let base = pipelineURL else { throw PipelineFetchError(path: path, reason: "no pipeline URL") }
        let request = HTTPClientRequest(url: base.absoluteString + path)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(2))
        let body = try await response.body.collect(upTo: 16 << 20)
        if path == "/metrics", response.status != .ok {
            throw PipelineFetchError(path: path, reason: "HTTP \(response.status.code)")
        }
        return Data(body.readableBytesView)
    }

    private func pollPipeline() async {
        var status = PipelineStatus()
        let previous = pipeline
        let now = Date()
        do {
            let metrics = String(decoding: try await fetch("/metrics"), as: UTF8.self)
            let readiness = try JSONValue.parse(Array(try await fetch("/health/ready")))
            status.reachable = true
            status.ready = readiness["status"]?.stringValue == "up"
            status.components = PipelineStatus.components(fromReadiness: readiness)
            status.sourceEventsTotal = PipelineStatus.sum("sluice_source_events_total", in: metrics)
            status.sinkEventsTotal = PipelineStatus.sum("sluice_sink_events_applied_total", in: metrics)
            status.millisecondsBehindSource = PipelineStatus.sum("sluice_source_milliseconds_behind_source", in: metrics)
            status.consumerLag = PipelineStatus.consumerLag(in: metrics)
            if let at = previous.polledAt, previous.reachable {
                let seconds = now.timeIntervalSince(at)
                if seconds > 0 {
                    if let a = status.sourceEventsTotal, let b = previous.sourceEventsTotal { status.sourceEventsPerSecond = max(0, (a - b) / seconds) }
                    if let a = status.sinkEventsTotal, let b = previous.sinkEventsTotal { status.sinkEventsPerSecond = max(0, (a - b) / seconds) }
                }
            }
        } catch {
            status.reachable = false
            status.error = "pipeline at \(pipelineURL?.absoluteString ?? "?") unreachable: \(error.localizedDescription)"
        }
        status.polledAt = now
        let snapshot = status
        pipelineState.withLockedValue { $0 = snapshot }
    }
}

/// A pipeline endpoint that could not be read.
struct PipelineFetchError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "pipeline \(path): \(reason)" }
}

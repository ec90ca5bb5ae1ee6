import ServiceLifecycle
import SluiceSinkKit

/// The warehouse sink as one `Service`: SinkKit's consumer runtime with the warehouse as its target;
/// the target's connection is closed when the runtime ends.
public final class WarehouseSinkService: Service, Sendable {
    public let runtime: SinkRuntime
    public let target: WarehouseTarget

    public init(runtime: SinkRuntime, target: WarehouseTarget) {
        self.runtime = runtime
        self.target = target
    }

    public func run() async throws {
        try await runtime.run(thenClose: target.close)
    }
}

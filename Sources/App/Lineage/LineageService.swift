import ServiceLifecycle
import SluiceCore

/// Runs a connector's service and marks its lineage run: START with the datasets known from
/// configuration (if any; the source reports its own once it has read the CDC catalog), COMPLETE when
/// the service returns, FAIL with the error when it throws. (A source database stopped by a fatal
/// error reports FAIL itself, as its service keeps running until the process is told to stop.)
public struct LineageService: Service {
    let wrapped: any Service
    let lineage: LineageRun
    let datasets: (inputs: [LineageDataset], outputs: [LineageDataset])?

    public init(wrapping service: any Service, lineage: LineageRun,
                datasets: (inputs: [LineageDataset], outputs: [LineageDataset])?) {
        self.wrapped = service
        self.lineage = lineage
        self.datasets = datasets
    }

    public func run() async throws {
        if let datasets { lineage.report(part: "configuration", inputs: datasets.inputs, outputs: datasets.outputs) }
        do {
            try await wrapped.run()
        } catch {
            lineage.fail("\(error)")
            throw error
        }
        lineage.complete()
    }
}

import ServiceLifecycle
import SluiceCore
import SluiceLineage

extension RunCommand {
    /// The connector's service, marked by its lineage run when lineage is on. (The dispatcher runs first
    /// in the service group, so it stops last and delivers the connectors' COMPLETE events.)
    static func lineage(_ service: any Service, _ run: LineageRun?,
                        datasets: (inputs: [LineageDataset], outputs: [LineageDataset])?) -> any Service {
        guard let run else { return service }
        return LineageService(wrapping: service, lineage: run, datasets: datasets)
    }
}

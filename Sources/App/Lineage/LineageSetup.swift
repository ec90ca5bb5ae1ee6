import Foundation
import Logging
import SluiceCore

/// Lineage for `sluice run`, from the environment (off unless one of the first two is set):
/// - `SLUICE_OPENLINEAGE_URL` — an OpenLineage backend (Marquez: `http://host:5000`); events are POSTed
///   to `<url>/api/v1/lineage`
/// - `SLUICE_OPENLINEAGE_API_KEY_FILE` — a file holding an API key, sent as `Authorization: Bearer …`
/// - `SLUICE_OPENLINEAGE_FILE` — a file the events are appended to, one JSON object per line
/// - `SLUICE_OPENLINEAGE_NAMESPACE` [sluice] — the jobs' namespace; each connector is the job
///   `<namespace>/<connector name>`
public struct LineageSetup: Sendable {
    public let dispatcher: LineageDispatcher
    public let namespace: String

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// nil when lineage is off.
    public static func fromEnvironment(_ environment: [String: String], logger: Logger) throws(Problem) -> LineageSetup? {
        var transports: [any LineageTransport] = []
        if let url = environment["SLUICE_OPENLINEAGE_URL"], !url.isEmpty {
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw Problem(description: "SLUICE_OPENLINEAGE_URL=\(url) is not an http:// or https:// URL (e.g. http://localhost:5000 for Marquez)")
            }
            var apiKey: String?
            if let keyFile = environment["SLUICE_OPENLINEAGE_API_KEY_FILE"], !keyFile.isEmpty {
                guard let text = try? String(contentsOfFile: keyFile, encoding: .utf8) else {
                    throw Problem(description: "SLUICE_OPENLINEAGE_API_KEY_FILE=\(keyFile) cannot be read; point it at a file holding the backend's API key")
                }
                apiKey = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            transports.append(HTTPLineageTransport(baseURL: url, apiKey: apiKey))
        }
        if let path = environment["SLUICE_OPENLINEAGE_FILE"], !path.isEmpty {
            transports.append(FileLineageTransport(path: path))
        }
        guard !transports.isEmpty else { return nil }
        let namespace = environment["SLUICE_OPENLINEAGE_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? "sluice"
        var logger = logger
        logger[metadataKey: "sluice.component"] = "openlineage"
        return LineageSetup(dispatcher: LineageDispatcher(transports: transports, logger: logger), namespace: namespace)
    }

    /// A new run (a fresh UUID) of the connector's job.
    public func run(connector: String) -> LineageRun {
        LineageRun(jobNamespace: namespace, connectorName: connector, runID: UUID().uuidString.lowercased(),
                   emitter: dispatcher, now: { LineageSetup.timestamp(Date()) })
    }

    /// ISO 8601 UTC with milliseconds.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

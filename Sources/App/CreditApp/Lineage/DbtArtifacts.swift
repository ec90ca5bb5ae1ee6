import Foundation
import SluiceCore

/// dbt's artifacts next to the manifest: when the marts were last built.
public enum DbtArtifacts {
    /// `metadata.generated_at` of the newest `run_results.json` beside one of the manifests (written by
    /// `dbt build`), else of the first manifest found; nil when neither exists.
    public static func builtAt(manifestPaths: [String]) -> String? {
        var candidates: [String] = []
        for path in manifestPaths {
            let directory = (path as NSString).deletingLastPathComponent
            candidates.append((directory as NSString).appendingPathComponent("run_results.json"))
        }
        candidates.append("dbt/target/run_results.json")
        candidates += manifestPaths
        var newest: String?
        for path in candidates {
            guard let data = FileManager.default.contents(atPath: path),
                  let json = try? JSONValue.parse(Array(data)),
                  let at = json["metadata"]?["generated_at"]?.stringValue else { continue }
            if path.hasSuffix("run_results.json") {
                if newest == nil || at > newest! { newest = at }
            } else if newest == nil {
                return at
            }
        }
        return newest
    }
}

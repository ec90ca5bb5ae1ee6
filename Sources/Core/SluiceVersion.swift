/// The version Sluice reports in `source.version` of every change event and in `sluice --version`.
public enum SluiceVersion {
    public static let current = "0.1.0"
}

import CRdKafka
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The librdkafka that is loaded at run time, and the check that it is new enough.
///
/// Two librdkafka builds share the soname `librdkafka.so.1` on our machines (Debian 12's 2.0.2 and
/// the 2.8.0 that `scripts/bootstrap` builds into /usr/local); which one the dynamic loader picks
/// depends on ld.so's search order, not on what the build saw through pkg-config. Every client checks
/// at start-up and refuses to run on an old one.
public enum KafkaLibrary {
    /// The oldest librdkafka Sluice runs on: 2.2.0 (`0x020200ff`); it needs `rd_kafka_produceva`-era
    /// APIs, cooperative incremental rebalancing and the fixes of the 2.x series.
    public static let minimumVersion: Int32 = 0x0202_00FF

    /// `rd_kafka_version()` of the loaded library, e.g. `0x020800ff` for 2.8.0.
    public static var version: Int32 { rd_kafka_version() }

    /// `rd_kafka_version_str()` of the loaded library, e.g. "2.8.0".
    public static var versionString: String { String(cString: rd_kafka_version_str()) }

    /// The file the dynamic loader took librdkafka from (on Linux, from /proc/self/maps), if known.
    public static var loadedFrom: String? {
        #if os(Linux)
        guard let file = fopen("/proc/self/maps", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if let slash = text.firstIndex(of: "/"), text.contains("librdkafka") {
                return String(text[slash...].prefix { $0 != "\n" })
            }
        }
        return nil
        #else
        return nil
        #endif
    }

    /// Throws `KafkaError.Code.libraryVersion` when the loaded librdkafka is older than `minimumVersion`.
    public static func checkVersion() throws {
        try checkVersion(version: version, versionString: versionString, loadedFrom: loadedFrom)
    }

    /// The check itself, separated from the loaded library so that it can be tested.
    static func checkVersion(version: Int32, versionString: String, loadedFrom: String?) throws {
        guard version < minimumVersion else { return }
        let location = loadedFrom ?? "an unknown path (see `ldd` of the binary)"
        throw KafkaError(
            code: .libraryVersion,
            message: "librdkafka \(versionString) (0x\(String(UInt32(bitPattern: version), radix: 16))) is loaded, "
                + "but Sluice needs librdkafka ≥ 2.2. Run scripts/bootstrap (it builds librdkafka 2.8 into /usr/local "
                + "and runs ldconfig); an older librdkafka.so.1 is being loaded from \(location). If /usr/local has the "
                + "new one, make the loader find it first (ldconfig, or LD_LIBRARY_PATH=/usr/local/lib) and rebuild "
                + "cleanly (SwiftPM caches pkg-config results)."
        )
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bound `AF_UNIX` `SOCK_DGRAM` socket standing in for systemd's notification socket in tests:
/// collects each datagram with the time it arrived. Reads without blocking (polled).
final class DatagramListener: @unchecked Sendable {
    let address: String
    private let fd: Int32
    private let path: String?

    /// `abstract`: an abstract-namespace name (`@…`), else a path in the temporary directory.
    init(abstract: Bool) throws {
        let name = "sluice-notify-\(UUID().uuidString.prefix(8))"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var bytes: [UInt8]
        if abstract {
            address = "@" + name
            path = nil
            bytes = [0] + Array(name.utf8)
        } else {
            let p = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
            address = p
            path = p
            bytes = Array(p.utf8)
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { for (i, b) in bytes.enumerated() { $0[i] = b } }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard rc == 0 else { throw POSIXError(.init(rawValue: errno)!) }
    }

    /// Datagrams waiting now.
    func drain() -> [String] {
        var out: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            out.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        return out
    }

    /// Polls until a datagram satisfies `predicate` (returning every datagram received meanwhile), or
    /// throws after `timeout`.
    func wait(for timeout: Duration = .seconds(5), until predicate: (String) -> Bool) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        var seen: [String] = []
        while ContinuousClock.now < deadline {
            let batch = drain()
            seen += batch
            if batch.contains(where: predicate) { return seen }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ListenerTimeout(seen: seen)
    }

    struct ListenerTimeout: Error, CustomStringConvertible {
        let seen: [String]
        var description: String { "no matching datagram; got \(seen)" }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }
}

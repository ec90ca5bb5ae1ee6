#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket systemd listens on for sd_notify(3) messages (`$NOTIFY_SOCKET`): a filesystem path, or an
/// abstract-namespace name written with a leading `@`. Each `send` is one `AF_UNIX` `SOCK_DGRAM`
/// datagram of newline-separated `KEY=VALUE` assignments, sent without blocking (systemd reads its
/// notification socket promptly; a full queue drops the datagram rather than stalling the caller).
public struct SystemdNotifySocket: Sendable, CustomStringConvertible {
    public let address: String

    /// `nil` when the address cannot be a socket name (empty, or longer than `sun_path`).
    public init?(address: String) {
        let length = address.utf8.count
        guard length > 0, length < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return nil }
        guard address.hasPrefix("/") || address.hasPrefix("@") else { return nil }
        self.address = address
    }

    public var description: String { address }

    /// Sends `message` as one datagram; throws with errno's text when the send fails.
    public func send(_ message: String) throws(SystemdNotifyError) {
        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw SystemdNotifyError(operation: "socket", errno: errno, address: address) }
        defer { close(fd) }

        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var name = Array(address.utf8)
        let abstract = name.first == UInt8(ascii: "@")
        if abstract { name[0] = 0 }  // abstract namespace: a leading NUL, no trailing one
        withUnsafeMutableBytes(of: &addr.sun_path) { path in
            for (i, byte) in name.enumerated() { path[i] = byte }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        let length = socklen_t(pathOffset + name.count + (abstract ? 0 : 1))

        let bytes = Array(message.utf8)
        #if os(Linux)
        let flags = Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)
        #else
        let flags = Int32(MSG_DONTWAIT)
        #endif
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &addr) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                    sendto(fd, buffer.baseAddress, buffer.count, flags, sockaddrPointer, length)
                }
            }
        }
        guard sent == bytes.count else { throw SystemdNotifyError(operation: "sendto", errno: errno, address: address) }
    }
}

/// A notification that could not be sent to systemd.
public struct SystemdNotifyError: Error, CustomStringConvertible {
    public let operation: String
    public let errno: Int32
    public let address: String

    public var description: String {
        "\(operation) to NOTIFY_SOCKET \(address) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The operations endpoints' address is taken (usually by another Sluice process on the same host):
/// names the address and how to move this process to another port.
public struct OperationsAddressInUse: Error, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String {
        "the operations address \(host):\(port) (/metrics, /health) is already in use, probably by another sluice process; "
            + "give each process its own port with --http-port N or SLUICE_HTTP_PORT=N (0 picks a free one)"
    }

    /// Fails with this error when `host:port` cannot be bound because it is in use, before anything
    /// else of the process starts. Port 0 always succeeds. Other bind failures (an address that is not
    /// this host's) are left to the server, which reports them when it starts.
    public static func check(host: String, port: Int) async throws {
        guard port != 0 else { return }
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
        } catch {
            throw translating(error, host: host, port: port)
        }
        try? await channel.close()
    }

    /// `error`, or this error when it is "address in use" from binding `host:port`.
    public static func translating(_ error: any Error, host: String, port: Int) -> any Error {
        if let io = error as? IOError, io.errnoCode == EADDRINUSE { return OperationsAddressInUse(host: host, port: port) }
        return error
    }
}

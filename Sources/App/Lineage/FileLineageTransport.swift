#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOPosix

/// Appends each event as one line of JSON to a file (OpenLineage's file transport in append mode), on
/// NIO's thread pool so no blocking write runs on the cooperative pool. One `write` per line on an
/// `O_APPEND` descriptor, so several processes may share the file.
public struct FileLineageTransport: LineageTransport {
    public let path: String
    let threadPool: NIOThreadPool

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init(path: String, threadPool: NIOThreadPool = .singleton) {
        self.path = path
        self.threadPool = threadPool
    }

    public var target: String { path }

    public func send(_ event: [UInt8]) async throws {
        let path = self.path
        try await threadPool.runIfActive {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let line = event + [UInt8(ascii: "\n")]
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == line.count else {
                throw Failure(description: "cannot append to \(path): \(written < 0 ? String(cString: strerror(errno)) : "short write")")
            }
        }
    }
}

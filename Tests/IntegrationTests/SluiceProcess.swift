import Foundation
import SluiceCore

/// `sluice run <connector files>` as a child process, the way an operator runs it: the crash tests
/// kill it with SIGKILL (no shutdown hook, no flush) and start it again on the same files. One test
/// drives it from one task at a time.
final class SluiceProcess: @unchecked Sendable {
    let connectorFiles: [URL]
    let log: URL
    /// The operations port it is started with (0: the system picks one; `operationsPort()` reads it).
    let httpPort: Int
    private var process: Process?
    /// How many times the process was started.
    private(set) var starts = 0

    init(connectorFiles: [URL], log: URL, httpPort: Int = 0) {
        self.connectorFiles = connectorFiles
        self.log = log
        self.httpPort = httpPort
    }

    /// The `sluice` executable `swift build` produced next to the test bundle.
    static func binary() throws -> URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for configuration in ["debug", "release"] {
            let url = root.appendingPathComponent(".build/\(configuration)/sluice")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw SluiceProcessFailure("no .build/debug/sluice: run `swift build` (make test does) before the integration tests")
    }

    /// Writes a connector file `{"name": …, "config": {…}}` into `directory`.
    static func writeConnectorFile(name: String, config: [String: String], in directory: URL) throws -> URL {
        var object = JSONObject()
        for (key, value) in config.sorted(by: { $0.key < $1.key }) { object[key] = .string(value) }
        let url = directory.appendingPathComponent("\(name).json")
        try Data(JSONValue.object(["name": .string(name), "config": .object(object)]).serialized()).write(to: url)
        return url
    }

    /// A sink's connector file: `config` plus what every test sink shares (the local broker, short
    /// retry backoffs, and a short group session: a killed member holds its partitions until it ends).
    static func writeSinkConnectorFile(name: String, config: [String: String], in directory: URL) throws -> URL {
        let common = [
            "group.id": name, "kafka.bootstrap.servers": try LocalWorld.env("SLUICE_KAFKA_BOOTSTRAP"),
            "retry.backoff.initial.ms": "100", "retry.backoff.max.ms": "1000",
            "kafka.session.timeout.ms": "6000", "kafka.heartbeat.interval.ms": "500",
        ]
        return try writeConnectorFile(name: name, config: common.merging(config) { _, own in own }, in: directory)
    }

    /// A fresh directory for one test's connector files and log.
    static func scratchDirectory(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(name)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Starts the process, its output appended to `log`.
    func start() throws {
        let process = Process()
        process.executableURL = try Self.binary()
        process.arguments = ["run", "--http-port", String(httpPort)] + connectorFiles.map(\.path)
        var environment = ProcessInfo.processInfo.environment
        environment["SLUICE_LOG_LEVEL"] = "info"
        process.environment = environment
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        starts += 1
    }

    /// SIGKILL, then waits for the process to be gone.
    func killNine() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Kills the process and starts it again, `times` times: the first kill lands during start-up
    /// (before the group join finished), each later one at a random moment `windowMs` after
    /// `progress` (what the target has stored) moved past where it stood at the previous kill, so it
    /// hits a process that is applying. Returns `progress` at each kill.
    func killAndRestart(times: Int, windowMs: ClosedRange<Int> = 0...1500, timeout: Duration = .seconds(90),
                        progress: () async throws -> Int64) async throws -> [Int64] {
        var stored: [Int64] = []
        for kill in 0..<times {
            if kill == 0 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...1500)))
            } else {
                let last = stored.last ?? 0
                let clock = ContinuousClock()
                let deadline = clock.now + timeout
                while try await progress() <= last {
                    guard clock.now < deadline else { throw SluiceProcessFailure("no progress past \(last) within \(timeout); log tail:\n\(logText.suffix(3000))") }
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: windowMs)))
            }
            killNine()
            stored.append(try await progress())
            try start()
        }
        return stored
    }

    /// SIGTERM (a graceful stop), then waits.
    func stop() {
        guard let process else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
    }

    /// Whether the process exited on its own (a fatal error); its status then.
    var exitedOnItsOwn: Int32? {
        guard let process, !process.isRunning else { return nil }
        return process.terminationStatus
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// The port the operations endpoints listen on, from the process's "listening on" log line (the
    /// last start's).
    func operationsPort(timeout: Duration = .seconds(60)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let marker = "Operations endpoints listening on http://"
            if let line = logText.components(separatedBy: "\n").last(where: { $0.contains(marker) }),
               let port = line.components(separatedBy: marker).last?.split(separator: ":").last.flatMap({ Int($0.prefix { $0.isNumber }) }) {
                return port
            }
            if let status = exitedOnItsOwn { throw SluiceProcessFailure("sluice exited with \(status) before listening; log tail:\n\(logText.suffix(3000))") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SluiceProcessFailure("no operations endpoint within \(timeout); log tail:\n\(logText.suffix(3000))")
    }

    /// Waits for the process to exit on its own; its status, or `nil` after `timeout`.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitedOnItsOwn { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// How many log lines contain `text`.
    func logCount(_ text: String) -> Int { logText.components(separatedBy: text).count - 1 }

    deinit { process.map { kill($0.processIdentifier, SIGKILL) } }
}

struct SluiceProcessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

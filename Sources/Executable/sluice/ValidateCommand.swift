import ArgumentParser
import Foundation
import SluiceCore

/// `sluice validate <connector.json>…`: checks each file and prints one line per problem.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check connector files without connecting to anything; exits non-zero with one line per problem."
    )

    @Argument(help: "Connector files (JSON).")
    var files: [String]

    func run() throws {
        var failed = false
        for path in files {
            do {
                let (kind, properties) = try ConnectorFile.load(path: path, environment: ProcessInfo.processInfo.environment)
                switch kind {
                case .sqlServerSource: _ = try SQLServerSourceConfiguration(properties)
                case .warehouseSink: _ = try WarehouseSinkConfiguration(properties)
                case .postgresSink: _ = try PostgresSinkConfiguration(properties)
                }
                print("\(path): ok (\(kind.rawValue) \"\(properties.name)\")")
            } catch {
                failed = true
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
            }
        }
        if failed { throw ExitCode.failure }
    }
}

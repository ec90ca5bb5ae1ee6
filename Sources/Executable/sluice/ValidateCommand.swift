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
                let connector = try ConnectorRegistry.sluice.load(path: path, environment: ProcessInfo.processInfo.environment)
                print("\(path): ok (\(connector.kind) \"\(connector.name)\")")
            } catch {
                failed = true
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
            }
        }
        if failed { throw ExitCode.failure }
    }
}

import Foundation

/// The local world's addresses, from `eval "$(scripts/services env)"` (`make test` does this).
enum LocalWorld {
    static func env(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw LocalWorldMissing(variable: name)
        }
        return value
    }
}

struct LocalWorldMissing: Error, CustomStringConvertible {
    let variable: String
    var description: String {
        "\(variable) is not set: integration tests need the local world. Run `make test`, or `scripts/services up && eval \"$(scripts/services env)\"` first."
    }
}

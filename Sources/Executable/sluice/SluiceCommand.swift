import ArgumentParser
import SluiceCore

@main
struct SluiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Change-data-capture from SQL Server to Kafka, and sinks into Postgres and a SQL Server warehouse.",
        discussion: """
            Connector files are JSON in Kafka Connect's REST shape, {"name": …, "config": {…}}, with
            Debezium's property names; values may reference the environment as ${NAME} or ${NAME:-default}.
            See README.md, "Configuration", for every key.
            """,
        version: SluiceVersion.current,
        subcommands: [RunCommand.self, ValidateCommand.self, OffsetsCommand.self, AppCommand.self]
    )
}

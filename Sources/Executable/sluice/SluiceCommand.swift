import ArgumentParser
import SluiceCore

@main
struct SluiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Change-data-capture from SQL Server to Kafka, and sinks into Postgres and a SQL Server warehouse.",
        version: SluiceVersion.current
    )
}

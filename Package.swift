// swift-tools-version:6.1
// Sluice: SQL Server CDC → Kafka → Postgres replica / SCD2 warehouse.
// The folder tree under Sources/ follows the layers of DESIGN.md:
//   Shims (C) → Clients → Core → Connectors → App → Executable.
import PackageDescription

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // 1. C shims: headers and modulemaps only.
        .systemLibrary(
            name: "CFreeTDS",
            path: "Sources/Shims/CFreeTDS",
            providers: [.apt(["freetds-dev"])]
        ),
        .systemLibrary(
            name: "CRdKafka",
            path: "Sources/Shims/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev (>= 2.2, built by scripts/bootstrap)"])]
        ),

        // 2. Clients.
        .target(
            name: "SluiceSQLServer",
            dependencies: [
                "CFreeTDS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Clients/SQLServer"
        ),
        .target(
            name: "SluiceKafka",
            dependencies: [
                "CRdKafka",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Clients/Kafka"
        ),

        // 3. Core: event model, positions, codec, topic naming, configuration.
        .target(
            name: "SluiceCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Core"
        ),

        // 4. Connectors.
        .target(
            name: "SluiceSQLServerSource",
            dependencies: [
                "SluiceCore",
            ],
            path: "Sources/Connectors/SQLServerSource"
        ),

        // 6. Executable.
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceCore",
                "SluiceSQLServer",
                "SluiceKafka",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Executable/sluice"
        ),

        // Unit tests: no server needed.
        .testTarget(
            name: "SluiceUnitTests",
            dependencies: ["SluiceCore", "SluiceSQLServer", "SluiceKafka", "SluiceSQLServerSource"],
            path: "Tests/UnitTests"
        ),
        // Integration tests: need the local world (`scripts/services up`, `eval "$(scripts/services env)"`).
        .testTarget(
            name: "SluiceIntegrationTests",
            dependencies: [
                "SluiceCore", "SluiceSQLServer", "SluiceKafka",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/IntegrationTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)

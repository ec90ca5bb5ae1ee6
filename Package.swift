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
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
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

        // 3. Core: event model, positions, codec, topic naming, configuration, health.
        .target(
            name: "SluiceCore",
            dependencies: [
                "SluiceSQLServer",  // SQLServerURL: the one mssql:// parser, for the connector files' URLs
                "SluiceKafka",  // Secret
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),  // ConnectorDefinition makes a Service
            ],
            path: "Sources/Core"
        ),

        // 4. Connectors.
        .target(
            name: "SluiceSQLServerSource",
            dependencies: [
                "SluiceCore",
                "SluiceSQLServer",
                "SluiceKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/Connectors/SQLServerSource"
        ),
        .target(
            name: "SluiceSinkKit",
            dependencies: [
                "SluiceCore",
                "SluiceKafka",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Connectors/SinkKit"
        ),
        .target(
            name: "SluicePostgresSink",
            dependencies: [
                "SluiceCore",
                "SluiceSQLServer",  // SQLServerDataType.Name: the source column types it maps
                "SluiceKafka",
                "SluiceSinkKit",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Connectors/PostgresSink"
        ),
        .target(
            name: "SluiceWarehouseSink",
            dependencies: [
                "SluiceCore",
                "SluiceSQLServer",
                "SluiceKafka",
                "SluiceSinkKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Connectors/WarehouseSink"
        ),

        // 5. App: the operations endpoints (/metrics, /health) every long-running process serves.
        .target(
            name: "SluiceOperations",
            dependencies: [
                "SluiceCore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/App/Operations"
        ),

        // 5. App: the credit back-office app (pages + /api/v1; writes staging, reads the replica and the warehouse).
        .target(
            name: "SluiceCreditApp",
            dependencies: [
                "SluiceCore",
                "SluiceSQLServer",
                "SluiceSQLServerSource",  // TableFilter: the lineage page selects source tables as the source does
                "SluiceOperations",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/App/CreditApp",
            resources: [.copy("Resources/templates"), .copy("Resources/openapi.json")]
        ),

        // 5. App: OpenLineage transports (HTTP, file) and the service that marks a connector's run.
        .target(
            name: "SluiceLineage",
            dependencies: [
                "SluiceCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/App/Lineage"
        ),

        // 6. Executable.
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceCore",
                "SluiceSQLServer",
                "SluiceKafka",
                "SluiceSQLServerSource",
                "SluicePostgresSink",
                "SluiceWarehouseSink",
                "SluiceSinkKit",
                "SluiceOperations",
                "SluiceCreditApp",
                "SluiceLineage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Executable/sluice"
        ),

        // Benchmarks (benchmarks/*/README.md).
        .executableTarget(
            name: "sluice-bench-pgsink",
            dependencies: [
                "SluiceCore", "SluiceKafka", "SluiceSinkKit", "SluicePostgresSink",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "benchmarks/postgres-sink/Sources"
        ),

        // Unit tests: no server needed.
        .testTarget(
            name: "SluiceUnitTests",
            dependencies: [
                "SluiceCore", "SluiceSQLServer", "SluiceKafka", "SluiceSQLServerSource", "SluiceOperations",
                "SluiceWarehouseSink", "SluiceSinkKit", "SluicePostgresSink", "SluiceCreditApp", "SluiceLineage",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Tests/UnitTests"
        ),
        // Integration tests: need the local world (`scripts/services up`, `eval "$(scripts/services env)"`).
        .testTarget(
            name: "SluiceIntegrationTests",
            dependencies: [
                "SluiceCore", "SluiceSQLServer", "SluiceKafka", "SluiceSinkKit", "SluicePostgresSink", "SluiceWarehouseSink",
                "SluiceSQLServerSource",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/IntegrationTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)

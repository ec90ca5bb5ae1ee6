/// What every Kafka client (producer, consumer, admin) needs to reach the cluster.
public struct KafkaConnectionConfiguration: Sendable, CustomStringConvertible {
    /// How the client authenticates and encrypts.
    public struct Security: Sendable, CustomStringConvertible {
        enum Backing: Sendable {
            case plaintext
            case sasl(mechanism: String, username: String, password: Secret, tls: Bool)
            case tls
        }

        let backing: Backing

        /// No TLS, no authentication (the local world).
        public static let plaintext = Security(backing: .plaintext)
        /// TLS without client authentication; the CA comes from `tlsCALocation` or the system store.
        public static let tls = Security(backing: .tls)

        /// SASL/PLAIN or SCRAM (`mechanism`: "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512").
        public static func sasl(mechanism: String, username: String, password: Secret, tls: Bool = true) -> Security {
            Security(backing: .sasl(mechanism: mechanism, username: username, password: password, tls: tls))
        }

        public var description: String {
            switch backing {
            case .plaintext: "plaintext"
            case .tls: "tls"
            case let .sasl(mechanism, username, _, tls): "sasl(\(mechanism), user \(username), password <secret>, tls \(tls))"
            }
        }
    }

    /// `bootstrap.servers`: host:port pairs.
    public var bootstrapServers: [String]
    /// `client.id`: shows in broker logs and metrics.
    public var clientID: String
    public var security: Security
    /// `ssl.ca.location`, when TLS is on and the system store is not the right one.
    public var tlsCALocation: String?
    /// `debug`: librdkafka debug contexts (e.g. ["broker", "cgrp"]), logged at debug level.
    public var debugContexts: [String]
    /// Any other librdkafka property (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md).
    /// Validated by librdkafka when the client is created; an unknown name or bad value is an error.
    public var additionalProperties: [String: String]

    public init(
        bootstrapServers: [String],
        clientID: String = "sluice",
        security: Security = .plaintext,
        tlsCALocation: String? = nil,
        debugContexts: [String] = [],
        additionalProperties: [String: String] = [:]
    ) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.security = security
        self.tlsCALocation = tlsCALocation
        self.debugContexts = debugContexts
        self.additionalProperties = additionalProperties
    }

    /// Convenience for a comma-separated `bootstrap.servers` string such as `SLUICE_KAFKA_BOOTSTRAP`.
    public init(bootstrapServers: String, clientID: String = "sluice") {
        self.init(bootstrapServers: Self.bootstrapServerList(bootstrapServers), clientID: clientID)
    }

    /// `host:port` entries of a comma-separated `bootstrap.servers` text (`kafka.bootstrap.servers`,
    /// `SLUICE_KAFKA_BOOTSTRAP`): whitespace removed, empty entries dropped.
    public static func bootstrapServerList(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
    }

    func render(into properties: inout KafkaProperties) {
        properties.set("bootstrap.servers", bootstrapServers.joined(separator: ","))
        properties.set("client.id", clientID)
        switch security.backing {
        case .plaintext:
            properties.set("security.protocol", "plaintext")
        case .tls:
            properties.set("security.protocol", "ssl")
        case let .sasl(mechanism, username, password, tls):
            properties.set("security.protocol", tls ? "sasl_ssl" : "sasl_plaintext")
            properties.set("sasl.mechanisms", mechanism)
            properties.set("sasl.username", username)
            properties.set("sasl.password", password.value, secret: true)
        }
        if let tlsCALocation { properties.set("ssl.ca.location", tlsCALocation) }
        if !debugContexts.isEmpty { properties.set("debug", debugContexts.joined(separator: ",")) }
        for key in additionalProperties.keys.sorted() {
            properties.set(key, additionalProperties[key]!)
        }
    }

    public var description: String {
        var rendered = KafkaProperties()
        render(into: &rendered)
        return rendered.description
    }
}

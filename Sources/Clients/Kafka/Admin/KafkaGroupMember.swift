/// One member of a consumer group, as the group coordinator describes it (DescribeGroups).
public struct KafkaGroupMember: Hashable, Sendable, CustomStringConvertible {
    /// The id the coordinator gave the member.
    public var memberID: String
    /// The member's `client.id`.
    public var clientID: String
    /// The address the member connected from, as the broker saw it (e.g. `/10.0.0.5`).
    public var host: String
    /// `group.instance.id` of a static member.
    public var groupInstanceID: String?

    public init(memberID: String, clientID: String, host: String, groupInstanceID: String? = nil) {
        self.memberID = memberID
        self.clientID = clientID
        self.host = host
        self.groupInstanceID = groupInstanceID
    }

    /// `client.id from host` when the coordinator reports them (Kafka does), else the member id (the
    /// local Tansu reports only that, which starts with the client id).
    public var description: String {
        clientID.isEmpty ? memberID : host.isEmpty ? clientID : "\(clientID) from \(host)"
    }
}

/// An OpenLineage run event (spec 2-0-2, https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent)
/// for one Sluice connector: the connector is a streaming job, each process run of it one run.
public struct LineageEvent: Hashable, Sendable {
    public enum EventType: String, Hashable, Sendable {
        case start = "START", running = "RUNNING", complete = "COMPLETE", fail = "FAIL"
    }

    public var eventType: EventType
    /// ISO 8601 with a zone, e.g. `2026-12-01T10:00:00.123Z`.
    public var eventTime: String
    /// A UUID, the same for every event of one run.
    public var runID: String
    public var jobNamespace: String
    public var jobName: String
    public var inputs: [LineageDataset]
    public var outputs: [LineageDataset]
    /// A URI naming the software that produced the event, with its version.
    public var producer: String
    /// For FAIL: why (written as the `errorMessage` run facet).
    public var errorMessage: String?

    public init(eventType: EventType, eventTime: String, runID: String, jobNamespace: String, jobName: String,
                inputs: [LineageDataset], outputs: [LineageDataset], producer: String = LineageEvent.producer,
                errorMessage: String? = nil) {
        self.eventType = eventType
        self.eventTime = eventTime
        self.runID = runID
        self.jobNamespace = jobNamespace
        self.jobName = jobName
        self.inputs = inputs
        self.outputs = outputs
        self.producer = producer
        self.errorMessage = errorMessage
    }

    /// Sluice's producer URI: its source repository at this version's tag.
    public static let producer = "https://github.com/sluice-cdc/sluice/tree/v\(SluiceVersion.current)"

    static let eventSchemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    static let jobTypeSchemaURL = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
    static let schemaSchemaURL = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
    static let columnLineageSchemaURL = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
    static let errorMessageSchemaURL = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"

    /// The event as OpenLineage JSON.
    public var json: JSONValue {
        var run: JSONObject = ["runId": .string(runID)]
        if let errorMessage {
            run["facets"] = .object(["errorMessage": .object(facet(Self.errorMessageSchemaURL, [
                "message": .string(errorMessage), "programmingLanguage": .string("Swift"),
            ]))])
        }
        let job: JSONObject = [
            "namespace": .string(jobNamespace), "name": .string(jobName),
            "facets": .object(["jobType": .object(facet(Self.jobTypeSchemaURL, [
                "processingType": .string("STREAMING"), "integration": .string("SLUICE"), "jobType": .string("TASK"),
            ]))]),
        ]
        return .object([
            "eventType": .string(eventType.rawValue),
            "eventTime": .string(eventTime),
            "run": .object(run),
            "job": .object(job),
            "inputs": .array(inputs.map { dataset($0, output: false) }),
            "outputs": .array(outputs.map { dataset($0, output: true) }),
            "producer": .string(producer),
            "schemaURL": .string(Self.eventSchemaURL),
        ])
    }

    private func facet(_ schemaURL: String, _ fields: JSONObject) -> JSONObject {
        var object: JSONObject = ["_producer": .string(producer), "_schemaURL": .string(schemaURL)]
        for (key, value) in fields { object[key] = value }
        return object
    }

    private func dataset(_ dataset: LineageDataset, output: Bool) -> JSONValue {
        var facets = JSONObject()
        if !dataset.fields.isEmpty {
            facets["schema"] = .object(facet(Self.schemaSchemaURL, [
                "fields": .array(dataset.fields.map { .object(["name": .string($0.name), "type": .string($0.type)]) }),
            ]))
        }
        if output && !dataset.columnLineage.isEmpty {
            var fields = JSONObject()
            for (field, inputs) in dataset.columnLineage {
                fields[field] = .object(["inputFields": .array(inputs.map { input in
                    let (subtype, description): (String, String?) = switch input.transformation {
                    case .identity: ("IDENTITY", nil)
                    case .transformation(let text): ("TRANSFORMATION", text)
                    }
                    var transformation: JSONObject = ["type": .string("DIRECT"), "subtype": .string(subtype)]
                    if let description { transformation["description"] = .string(description) }
                    transformation["masking"] = .bool(false)
                    return .object([
                        "namespace": .string(input.namespace), "name": .string(input.name), "field": .string(input.field),
                        "transformations": .array([.object(transformation)]),
                    ])
                })])
            }
            facets["columnLineage"] = .object(facet(Self.columnLineageSchemaURL, ["fields": .object(fields)]))
        }
        return .object(["namespace": .string(dataset.namespace), "name": .string(dataset.name), "facets": .object(facets)])
    }
}

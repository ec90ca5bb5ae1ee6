import SluiceCore

/// The credit warehouse (db-init/warehouse/20-tables.sql, docs/warehouse.md): which source table feeds
/// which warehouse table, and with which columns.
public struct WarehouseModel: Sendable, Hashable {
    public var schema: String
    public var customer: DimensionModel
    public var application: DimensionModel
    /// Source tables (`schema.table`) feeding each part.
    public var customersTable = "dbo.customers"
    public var applicationsTable = "dbo.credit_applications"
    public var repaymentsTable = "dbo.repayments"

    /// The fact tables (in `schema`).
    public static let applicationFactTable = "fact_credit_application"
    public static let repaymentFactTable = "fact_repayment"

    /// Every column the customer dimension can hold, with its type (as in dw.dim_customer).
    public static let customerColumns: [WarehouseColumn] = [
        .init("full_name", .string(200)), .init("national_id", .string(20)), .init("date_of_birth", .date),
        .init("email", .string(200)), .init("phone", .string(30)), .init("address", .string(400)),
        .init("monthly_income", .decimal(precision: 18, scale: 2)), .init("employment_status", .string(30)),
        .init("created_at", .timestamp), .init("updated_at", .timestamp),
    ]
    /// Every column the application dimension can hold (as in dw.dim_application).
    public static let applicationColumns: [WarehouseColumn] = [
        .init("customer_id", .int), .init("product", .string(30)),
        .init("requested_amount", .decimal(precision: 18, scale: 2)), .init("term_months", .int),
        .init("interest_rate", .decimal(precision: 5, scale: 2)), .init("status", .string(20)),
        .init("submitted_by", .string(100)), .init("submitted_at", .timestamp), .init("decided_by", .string(100)),
        .init("decided_at", .timestamp), .init("decision_note", .string(400)),
    ]
    /// The source columns of a credit application that the application fact keeps.
    public static let applicationFactColumns: [WarehouseColumn] = [
        .init("customer_id", .int), .init("product", .string(30)), .init("status", .string(20)),
        .init("requested_amount", .decimal(precision: 18, scale: 2)), .init("term_months", .int),
        .init("interest_rate", .decimal(precision: 5, scale: 2)), .init("submitted_at", .timestamp),
        .init("decided_at", .timestamp),
    ]
    /// The columns of dw.fact_credit_application filled from events: the source columns plus
    /// `approved_amount` (the requested amount once approved), in the order of `FactChange.values`.
    public static let applicationFactTableColumns: [WarehouseColumn] =
        Array(applicationFactColumns[0..<4]) + [.init("approved_amount", .decimal(precision: 18, scale: 2))]
        + Array(applicationFactColumns[4...])
    /// The source columns of a repayment that the repayment fact keeps.
    public static let repaymentFactColumns: [WarehouseColumn] = [
        .init("application_id", .int), .init("amount", .decimal(precision: 18, scale: 2)), .init("paid_at", .timestamp),
    ]

    public init(configuration: WarehouseSinkConfiguration) {
        self.init(schema: configuration.warehouseSchema, customer: configuration.customer, application: configuration.application)
    }

    public init(schema: String = "dw",
                customer: WarehouseSinkConfiguration.DimensionColumns,
                application: WarehouseSinkConfiguration.DimensionColumns) {
        func columns(_ names: [String], from all: [WarehouseColumn]) -> [WarehouseColumn] {
            names.compactMap { name in all.first { $0.name == name } }
        }
        self.schema = schema
        self.customer = DimensionModel(
            name: "customer", schema: schema, table: "dim_customer", keyColumn: "customer_id",
            surrogateColumn: "customer_version_key",
            tracked: columns(customer.tracked, from: Self.customerColumns),
            type1: columns(customer.type1, from: Self.customerColumns))
        self.application = DimensionModel(
            name: "application", schema: schema, table: "dim_application", keyColumn: "application_id",
            surrogateColumn: "application_version_key",
            tracked: columns(application.tracked, from: Self.applicationColumns),
            type1: columns(application.type1, from: Self.applicationColumns))
    }
}

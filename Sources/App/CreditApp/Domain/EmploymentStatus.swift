/// Employment statuses of the sample data.
public enum EmploymentStatus: String, Sendable, CaseIterable {
    case employed, selfEmployed = "self_employed", partTime = "part_time", unemployed, retired, student
}

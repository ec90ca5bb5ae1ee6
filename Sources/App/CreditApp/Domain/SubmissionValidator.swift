import Foundation

/// The rules of a credit application (422 with every bad field named, nothing written):
/// - `product` one of ``Product``; `requested_amount` > 0, at most 2 decimals, within the product's
///   limits; `term_months` a whole number 1–480;
/// - either `customer_id` (a positive whole number) or `customer` with `national_id` (1–20 letters,
///   digits or '-'), `full_name` (1–200), `date_of_birth` (YYYY-MM-DD, in the past, 18 or older, not
///   before 1900); optional `email` (shaped like one, ≤ 200), `phone` (≤ 30, digits, spaces, + - ( )),
///   `address` (≤ 400), `monthly_income` (≥ 0, at most 2 decimals), `employment_status` (one of
///   ``EmploymentStatus``). Lengths are those of the staging columns.
public struct SubmissionValidator: Sendable {
    /// "Today" for the age rules (UTC); injectable for tests.
    public var today: Date

    public init(today: Date = Date()) { self.today = today }

    public func validate(_ input: [String: FieldValue], customer: [String: FieldValue]?) -> Result<ApplicationSubmission, ValidationErrors> {
        var errors: [(String, String)] = []

        var product: Product?
        switch input["product"] ?? .missing {
        case .string(let s):
            product = Product(rawValue: s)
            if product == nil { errors.append(("product", "must be one of " + Product.allCases.map(\.rawValue).joined(separator: ", "))) }
        case .missing, .null: errors.append(("product", "is required"))
        default: errors.append(("product", "must be a string"))
        }

        var amount: String?
        switch Self.decimal(input["requested_amount"] ?? .missing, maxIntegerDigits: 16) {
        case .failure(let problem): errors.append(("requested_amount", problem.message))
        case .success(nil): errors.append(("requested_amount", "is required"))
        case .success(let (text, value)?):
            if value <= 0 {
                errors.append(("requested_amount", "must be greater than 0"))
            } else if let product, !product.amountLimits.contains(value) {
                errors.append(("requested_amount", "must be between \(product.amountLimits.lowerBound) and \(product.amountLimits.upperBound) for \(product.rawValue)"))
            } else {
                amount = text
            }
        }

        var term: Int?
        switch Self.integer(input["term_months"] ?? .missing) {
        case .failure(let problem): errors.append(("term_months", problem.message))
        case .success(nil): errors.append(("term_months", "is required"))
        case .success(let n?):
            if (1...480).contains(n) { term = n } else { errors.append(("term_months", "must be between 1 and 480 months")) }
        }

        var applicant: ApplicationSubmission.Applicant?
        let customerID = input["customer_id"] ?? .missing
        if let customer {
            if !customerID.isAbsent {
                errors.append(("customer_id", "give either customer_id (a known customer) or customer, not both"))
            } else {
                switch validateCustomer(customer) {
                case .success(let c): applicant = .customer(c)
                case .failure(let e): errors.append(contentsOf: e.fields)
                }
            }
        } else {
            switch Self.integer(customerID) {
            case .failure(let problem): errors.append(("customer_id", problem.message))
            case .success(nil): errors.append(("customer", "is required: the applicant's details, or customer_id of a known customer"))
            case .success(let id?):
                if id > 0 && id <= Int(Int32.max) { applicant = .customerID(id) } else { errors.append(("customer_id", "must be a positive whole number")) }
            }
        }

        guard errors.isEmpty, let product, let amount, let term, let applicant else { return .failure(ValidationErrors(errors)) }
        return .success(ApplicationSubmission(applicant: applicant, product: product, requestedAmount: amount, termMonths: term))
    }

    public func validateCustomer(_ c: [String: FieldValue]) -> Result<ApplicationSubmission.Customer, ValidationErrors> {
        var errors: [(String, String)] = []
        func text(_ name: String, max: Int, required: Bool) -> String? {
            switch c[name] ?? .missing {
            case .string(let raw):
                let s = raw.trimmingCharacters(in: .whitespacesAndNewlines)
                if s.isEmpty {
                    if required { errors.append(("customer." + name, "is required")) }
                    return nil
                }
                if s.count > max { errors.append(("customer." + name, "must be at most \(max) characters")); return nil }
                if s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    errors.append(("customer." + name, "must not contain control characters")); return nil
                }
                return s
            case .missing, .null:
                if required { errors.append(("customer." + name, "is required")) }
                return nil
            default:
                errors.append(("customer." + name, "must be a string"))
                return nil
            }
        }
        let nationalID = text("national_id", max: 20, required: true)
        if let nationalID, !nationalID.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }) {
            errors.append(("customer.national_id", "may hold only letters A–Z, digits and '-'"))
        }
        let fullName = text("full_name", max: 200, required: true)
        let dobText = text("date_of_birth", max: 10, required: true)
        var dob: DateComponents?
        if let dobText {
            if let d = Self.parseDate(dobText) {
                let calendar = Self.utcCalendar
                let todayParts = calendar.dateComponents([.year, .month, .day], from: today)
                let born = calendar.date(from: d)!
                if born >= calendar.startOfDay(for: today) {
                    errors.append(("customer.date_of_birth", "must be in the past"))
                } else if d.year! < 1900 {
                    errors.append(("customer.date_of_birth", "must be 1900 or later"))
                } else if let age = calendar.dateComponents([.year], from: d, to: todayParts).year, age < 18 {
                    errors.append(("customer.date_of_birth", "the applicant must be 18 or older"))
                } else {
                    dob = d
                }
            } else {
                errors.append(("customer.date_of_birth", "must be a date as YYYY-MM-DD"))
            }
        }
        let email = text("email", max: 200, required: false)
        if let email, !Self.looksLikeEmail(email) { errors.append(("customer.email", "must be an email address like name@example.com")) }
        let phone = text("phone", max: 30, required: false)
        if let phone, !phone.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || " +-()/".unicodeScalars.contains($0) }) {
            errors.append(("customer.phone", "may hold only digits, spaces and + - ( ) /"))
        }
        let address = text("address", max: 400, required: false)
        var income: String?
        switch Self.decimal(c["monthly_income"] ?? .missing, maxIntegerDigits: 16) {
        case .failure(let problem): errors.append(("customer.monthly_income", problem.message))
        case .success(nil): break
        case .success(let (t, v)?):
            if v < 0 { errors.append(("customer.monthly_income", "must not be negative")) } else { income = t }
        }
        let employment = text("employment_status", max: 30, required: false)
        if let employment, EmploymentStatus(rawValue: employment) == nil {
            errors.append(("customer.employment_status", "must be one of " + EmploymentStatus.allCases.map(\.rawValue).joined(separator: ", ")))
        }
        guard errors.isEmpty, let nationalID, let fullName, let dob else { return .failure(ValidationErrors(errors)) }
        return .success(.init(nationalID: nationalID.uppercased(), fullName: fullName, dateOfBirth: dob, email: email, phone: phone,
                              address: address, monthlyIncome: income, employmentStatus: employment))
    }

    public func validateDecision(_ input: [String: FieldValue]) -> Result<ApplicationDecision, ValidationErrors> {
        var errors: [(String, String)] = []
        var outcome: ApplicationDecision.Outcome?
        switch input["decision"] ?? .missing {
        case .string(let s):
            outcome = .init(rawValue: s)
            if outcome == nil { errors.append(("decision", "must be approve or reject")) }
        case .missing, .null: errors.append(("decision", "is required: approve or reject"))
        default: errors.append(("decision", "must be a string: approve or reject"))
        }
        var note: String?
        switch input["note"] ?? .missing {
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.count > 400 { errors.append(("note", "must be at most 400 characters")) }
            else if t.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && !"\n\r\t".unicodeScalars.contains($0) }) {
                errors.append(("note", "must not contain control characters"))
            } else if !t.isEmpty { note = t }
        case .missing, .null: break
        default: errors.append(("note", "must be a string"))
        }
        if outcome == .reject && note == nil { errors.append(("note", "is required when rejecting: say why")) }
        var rate: String?
        switch Self.decimal(input["interest_rate"] ?? .missing, maxIntegerDigits: 3) {
        case .failure(let problem): errors.append(("interest_rate", problem.message))
        case .success(nil): break
        case .success(let (t, v)?):
            if v < 0 || v >= 100 { errors.append(("interest_rate", "must be from 0 to 99.99 (percent)")) }
            else if outcome == .reject { errors.append(("interest_rate", "only an approval carries an interest rate")) }
            else { rate = t }
        }
        guard errors.isEmpty, let outcome else { return .failure(ValidationErrors(errors)) }
        return .success(ApplicationDecision(outcome: outcome, note: note, interestRate: rate))
    }

    // MARK: Field rules

    /// A decimal with at most 2 decimals, from a JSON number or a string; nil when absent.
    static func decimal(_ value: FieldValue, maxIntegerDigits: Int) -> Result<(String, Decimal)?, FieldProblem> {
        let text: String
        switch value {
        case .missing, .null: return .success(nil)
        case .number(let n): text = n
        case .string(let s): text = s.trimmingCharacters(in: .whitespaces)
        case .other: return .failure("must be a number")
        }
        var body = Substring(text)
        var negative = false
        if body.hasPrefix("-") { negative = true; body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit),
              parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy(\.isASCIIDigit)) else {
            return .failure("must be a number like 1234.50")
        }
        if parts.count == 2 && parts[1].count > 2 { return .failure("must have at most 2 decimals") }
        let digits = whole.drop { $0 == "0" }
        if digits.count > maxIntegerDigits { return .failure("is too large") }
        let normalized = (negative ? "-" : "") + (digits.isEmpty ? "0" : String(digits)) + (parts.count == 2 ? "." + parts[1] : "")
        guard let decimal = Decimal(string: normalized, locale: Locale(identifier: "en_US_POSIX")) else { return .failure("must be a number") }
        return .success((normalized, decimal))
    }

    /// A whole number from a JSON number or a string; nil when absent.
    static func integer(_ value: FieldValue) -> Result<Int?, FieldProblem> {
        let text: String
        switch value {
        case .missing, .null: return .success(nil)
        case .number(let n): text = n
        case .string(let s): text = s.trimmingCharacters(in: .whitespaces)
        case .other: return .failure("must be a whole number")
        }
        guard !text.isEmpty, text.count <= 12, let n = Int(text) else { return .failure("must be a whole number") }
        return .success(n)
    }

    static let utcCalendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// `YYYY-MM-DD`, a real calendar date.
    public static func parseDate(_ text: String) -> DateComponents? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m), (1...31).contains(d) else { return nil }
        let components = DateComponents(calendar: utcCalendar, timeZone: utcCalendar.timeZone, year: y, month: m, day: d)
        guard components.isValidDate(in: utcCalendar) else { return nil }
        return DateComponents(year: y, month: m, day: d)
    }

    /// local@domain.tld: one '@', no spaces, a dot in the domain, neither part empty.
    public static func looksLikeEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !s.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," }) else { return false }
        let domain = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        return domain.count >= 2 && domain.allSatisfy { !$0.isEmpty } && (domain.last?.count ?? 0) >= 2
    }
}

/// A field's problem, as said to the user.
public struct FieldProblem: Error, Sendable, Hashable, ExpressibleByStringLiteral {
    public let message: String
    public init(stringLiteral value: String) { message = value }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

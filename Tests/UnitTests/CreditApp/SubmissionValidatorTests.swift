import Foundation
import Testing
@testable import SluiceCreditApp

@Suite struct SubmissionValidatorTests {
    /// 2026-06-15, so ages are exact.
    let validator = SubmissionValidator(today: ISO8601DateFormatter().date(from: "2026-06-15T10:00:00Z")!)

    func customer(_ overrides: [String: FieldValue] = [:]) -> [String: FieldValue] {
        var c: [String: FieldValue] = [
            "national_id": .string("k490905752"), "full_name": .string("Farah Haddad"), "date_of_birth": .string("1985-04-26"),
            "email": .string("farah@example.com"), "phone": .string("+49 161 6772570"), "address": .string("Station Road 30, Dublin 2"),
            "monthly_income": .number("9477.49"), "employment_status": .string("employed"),
        ]
        for (k, v) in overrides { c[k] = v }
        return c
    }

    func application(_ overrides: [String: FieldValue] = [:]) -> [String: FieldValue] {
        var a: [String: FieldValue] = ["product": .string("personal_loan"), "requested_amount": .number("12000.50"), "term_months": .number("36")]
        for (k, v) in overrides { a[k] = v }
        return a
    }

    func errors(_ app: [String: FieldValue], customer: [String: FieldValue]?) -> ValidationErrors? {
        if case .failure(let e) = validator.validate(app, customer: customer) { return e }
        return nil
    }

    @Test func acceptsAValidApplicationAndNormalisesIt() throws {
        let s = try validator.validate(application(), customer: customer()).get()
        #expect(s.product == .personalLoan && s.requestedAmount == "12000.50" && s.termMonths == 36)
        guard case .customer(let c) = s.applicant else { Issue.record("expected a customer"); return }
        #expect(c.nationalID == "K490905752")
        #expect(c.monthlyIncome == "9477.49")
    }

    @Test func acceptsAKnownCustomerID() throws {
        let s = try validator.validate(application(["customer_id": .number("7")]), customer: nil).get()
        #expect(s.applicant == .customerID(7))
        #expect(errors(application(["customer_id": .number("7")]), customer: customer())?["customer_id"] != nil)
        #expect(errors(application(), customer: nil)?["customer"] != nil)
        #expect(errors(application(["customer_id": .number("-3")]), customer: nil)?["customer_id"] != nil)
    }

    @Test(arguments: [
        ("0", "must be greater than 0"), ("-5", "must be greater than 0"), ("10.005", "must have at most 2 decimals"),
        ("1e5", "must be a number like 1234.50"), ("abc", "must be a number like 1234.50"), ("499.99", "must be between 500 and 75000 for personal_loan"),
        ("75000.01", "must be between 500 and 75000 for personal_loan"),
    ])
    func refusesBadAmounts(amount: String, message: String) {
        #expect(errors(application(["requested_amount": .number(amount)]), customer: customer())?["requested_amount"] == message)
    }

    @Test func amountLimitsAreThoseOfTheProduct() {
        #expect(errors(application(["product": .string("bnpl"), "requested_amount": .number("5000")]), customer: customer()) == nil)
        #expect(errors(application(["product": .string("bnpl"), "requested_amount": .number("5000.01")]), customer: customer())?["requested_amount"] != nil)
        #expect(errors(application(["product": .string("mortgage"), "requested_amount": .string("350000")]), customer: customer()) == nil)
    }

    @Test func refusesBadTermsAndProducts() {
        for term in ["0", "481", "12.5", "x"] {
            #expect(errors(application(["term_months": .number(term)]), customer: customer())?["term_months"] != nil, "\(term)")
        }
        #expect(errors(application(["term_months": .number("480")]), customer: customer()) == nil)
        #expect(errors(application(["product": .string("yacht")]), customer: customer())?["product"]?.contains("personal_loan") == true)
        #expect(errors(application(["product": .other]), customer: customer())?["product"] == "must be a string")
    }

    @Test func datesOfBirthMustBeRealPastAndAdult() {
        func dobError(_ s: String) -> String? { errors(application(), customer: customer(["date_of_birth": .string(s)]))?["customer.date_of_birth"] }
        #expect(dobError("2008-06-15") == nil)                       // 18 today
        #expect(dobError("2008-06-16") == "the applicant must be 18 or older")
        #expect(dobError("2027-01-01") == "must be in the past")
        #expect(dobError("1985-02-30") == "must be a date as YYYY-MM-DD")
        #expect(dobError("26.04.1985") == "must be a date as YYYY-MM-DD")
        #expect(dobError("1899-12-31") == "must be 1900 or later")
    }

    @Test func customerFieldsFollowTheColumns() {
        let e = errors(application(), customer: customer([
            "email": .string("farah@"), "full_name": .string(String(repeating: "x", count: 201)), "phone": .string("call me"),
            "national_id": .string("K49 0905"), "monthly_income": .number("-1"), "employment_status": .string("astronaut"),
            "address": .string("line\u{0}break"),
        ]))
        let names = Set(e?.fields.map(\.0) ?? [])
        #expect(names == ["customer.email", "customer.full_name", "customer.phone", "customer.national_id", "customer.monthly_income",
                          "customer.employment_status", "customer.address"])
        #expect(errors(application(), customer: customer(["full_name": .string(String(repeating: "é", count: 200))])) == nil)
        #expect(errors(application(), customer: customer(["email": .null, "phone": .missing])) == nil)
        #expect(errors(application(), customer: customer(["full_name": .string("   ")]))?["customer.full_name"] == "is required")
    }

    @Test func emailShapes() {
        #expect(SubmissionValidator.looksLikeEmail("a.b@example.co"))
        for bad in ["a@b", "@example.com", "a b@example.com", "a@example.", "a@@example.com", "<a>@example.com"] {
            #expect(!SubmissionValidator.looksLikeEmail(bad), "\(bad)")
        }
    }

    @Test func decisions() throws {
        let approve = try validator.validateDecision(["decision": .string("approve"), "interest_rate": .number("6.25")]).get()
        #expect(approve.outcome == .approve && approve.interestRate == "6.25" && approve.note == nil)
        func fail(_ input: [String: FieldValue]) -> ValidationErrors? {
            if case .failure(let e) = validator.validateDecision(input) { return e }
            return nil
        }
        #expect(fail(["decision": .string("reject")])?["note"] == "is required when rejecting: say why")
        #expect(fail(["decision": .string("maybe")])?["decision"] != nil)
        #expect(fail([:])?["decision"] != nil)
        #expect(fail(["decision": .string("approve"), "interest_rate": .number("100")])?["interest_rate"] != nil)
        #expect(fail(["decision": .string("reject"), "note": .string("no"), "interest_rate": .number("5")])?["interest_rate"] != nil)
        #expect(fail(["decision": .string("approve"), "note": .string(String(repeating: "n", count: 401))])?["note"] != nil)
    }

    @Test func filtersAreValidated() throws {
        let f = try ApplicationFilter.parse(["status": "approved", "product": "bnpl", "q": " Chloé ", "page": "2", "page_size": "50",
                                             "submitted_from": "2025-01-01", "submitted_to": ""]).get()
        #expect(f.status == "approved" && f.product == "bnpl" && f.query == "Chloé" && f.page == 2 && f.pageSize == 50)
        #expect(f.submittedFrom == "2025-01-01" && f.submittedTo == nil)
        for (k, v) in [("status", "open"), ("product", "x"), ("page", "0"), ("page_size", "101"), ("submitted_to", "2025-13-01"),
                       ("q", "a\u{0}b"), ("page", "' OR 1=1")] {
            guard case .failure(let e) = ApplicationFilter.parse([k: v]) else { Issue.record("\(k)=\(v) accepted"); continue }
            #expect(e[k] != nil)
        }
        #expect(try ApplicationFilter.parse(["q": "42"]).get().queryApplicationID == 42)
        #expect(try ApplicationFilter.parse(["q": "42a"]).get().queryApplicationID == nil)
    }
}

import Foundation
import Hummingbird
import Testing
@testable import SluiceCreditApp

@Suite struct SessionSecurityTests {
    @Test func csrfTokensAreLongRandomAndURLSafe() {
        let tokens = (0..<200).map { _ in CSRFToken.generate() }
        #expect(Set(tokens).count == tokens.count)
        for t in tokens {
            #expect(t.count == 43)  // 32 bytes
            #expect(t.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        }
    }

    @Test func csrfComparisonNeedsTheExactToken() {
        let token = CSRFToken.generate()
        #expect(CSRFToken.matches(token, token))
        #expect(!CSRFToken.matches(nil, token))
        #expect(!CSRFToken.matches("", token))
        #expect(!CSRFToken.matches(String(token.dropLast()), token))
        #expect(!CSRFToken.matches(String(token.dropLast()) + (token.last == "A" ? "B" : "A"), token))
        #expect(!CSRFToken.matches("", ""))  // a session without a token never matches
    }

    @Test func base64URLEncodingIsStandard() {
        #expect(CSRFToken.base64URL(Array("hello".utf8)) == "aGVsbG8")
        #expect(CSRFToken.base64URL([0xfb, 0xff]) == "-_8")
    }

    @Test func unsafeMethodsAndFetchSite() {
        #expect(CSRFMiddleware.isUnsafe(.post) && CSRFMiddleware.isUnsafe(.delete) && CSRFMiddleware.isUnsafe(.put) && CSRFMiddleware.isUnsafe(.patch))
        #expect(!CSRFMiddleware.isUnsafe(.get) && !CSRFMiddleware.isUnsafe(.head))
        #expect(CSRFMiddleware.fetchSiteAllowed(nil) && CSRFMiddleware.fetchSiteAllowed("same-origin") && CSRFMiddleware.fetchSiteAllowed("none"))
        #expect(!CSRFMiddleware.fetchSiteAllowed("cross-site") && !CSRFMiddleware.fetchSiteAllowed("same-site"))
    }

    @Test func onlyLoginHealthAndMetricsArePublic() {
        #expect(AuthenticationMiddleware.isPublic(method: .post, path: "/api/v1/session"))
        #expect(!AuthenticationMiddleware.isPublic(method: .delete, path: "/api/v1/session"))
        #expect(AuthenticationMiddleware.isPublic(method: .get, path: "/login") && AuthenticationMiddleware.isPublic(method: .post, path: "/login"))
        for path in ["/health/live", "/health/ready", "/metrics"] { #expect(AuthenticationMiddleware.isPublic(method: .get, path: path)) }
        for path in ["/api/v1/applications", "/api/v1/openapi.json", "/dashboard", "/search", "/"] {
            #expect(!AuthenticationMiddleware.isPublic(method: .get, path: path), "\(path)")
        }
    }

    @Test func sessionKeysAreStoredHashed() {
        let key = "s.abcdef"
        let hash = PostgresPersistDriver.keyHash(key)
        #expect(hash.count == 64 && !hash.contains("abcdef"))
        #expect(hash == PostgresPersistDriver.keyHash(key) && hash != PostgresPersistDriver.keyHash("s.abcdeg"))
    }

    @Test func postLoginRedirectsStayOnTheSite() {
        #expect(PagesController.safeNext("/search?q=x") == "/search?q=x")
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "", nil, "/login"] {
            #expect(PagesController.safeNext(bad) == "/dashboard", "\(bad ?? "nil")")
        }
    }

    @Test func demoHashesVerifyWithHummingbirdBcrypt() async throws {
        let sql = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../db-init/postgres/20-app.sql").standardized, encoding: .utf8)
        let hashes = sql.split(separator: "'").filter { $0.hasPrefix("$2b$12$") }.map(String.init)
        #expect(hashes.count == 5)
        let hasher = try await PasswordHasher.make()
        for hash in hashes {
            #expect(try await hasher.verify("Credit_demo_2026", hash: hash))
            #expect(try await !hasher.verify("credit_demo_2026", hash: hash))
        }
        #expect(try await !hasher.verify("Credit_demo_2026", hash: nil))  // unknown user
    }

    @Test func formBodiesDecode() {
        let f = RequestBodyReader.parseForm("csrf_token=a%2Bb&note=Income+verified&empty=&x=%C3%A9")
        #expect(f["csrf_token"] == "a+b" && f["note"] == "Income verified" && f["empty"] == "" && f["x"] == "é")
    }

    @Test func textFoldingMatchesTheSQLTranslateMap() {
        #expect(TextFolding.translateFrom.count == TextFolding.translateTo.count)
        #expect(TextFolding.fold("Chloé") == "chloe")
        #expect(TextFolding.fold("CHLOE\u{301}") == "chloe")  // NFD input
        #expect(TextFolding.fold("Søren Ørsted") == "soren orsted")
        #expect(TextFolding.fold("Łukasz Hernández") == "lukasz hernandez")
        #expect(TextFolding.containsPattern("50%_a\\b") == "%50\\%\\_a\\\\b%")
    }

    @Test func replicaLagWording() {
        #expect(ReplicaFreshness.describe(nil) == "replica freshness unknown")
        #expect(ReplicaFreshness.describe(0) == "replica up to date")
        #expect(ReplicaFreshness.describe(800) == "replica 0.8 s behind")
        #expect(ReplicaFreshness.commitLSN(sortKey: "0000002a00000d180003.0000000001.--------------------.00000")
                == [0, 0, 0, 0x2a, 0, 0, 0x0d, 0x18, 0, 3])
    }

    @Test func svgChartsEscapeTheirLabels() {
        let svg = SVGChart.bars([("<script>alert(1)</script>", 3), ("b&c", 1)], title: "T\"x")
        #expect(!svg.contains("<script>") && svg.contains("&lt;script&gt;") && svg.contains("b&amp;c") && svg.contains("T&quot;x"))
    }
}

import Testing
@testable import SluiceCore

@Suite struct SluiceVersionTests {
    @Test func versionIsSemantic() {
        #expect(SluiceVersion.current.split(separator: ".").count == 3)
    }
}

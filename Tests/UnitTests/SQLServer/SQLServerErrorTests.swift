import Testing
@testable import SluiceSQLServer

@Suite struct SQLServerErrorTests {
    private func server(_ number: Int, severity: Int = 16, during phase: SQLServerError.Phase = .query) -> SQLServerError {
        .server(.init(number: number, state: 1, severity: severity, line: 3, procedure: "p", text: "text \(number)"), during: phase)
    }

    @Test func serverNumbersMapToCodes() {
        #expect(server(18456, severity: 14, during: .login).code == .loginFailed)
        #expect(server(4060, during: .login).code == .loginFailed)
        #expect(server(4060).code == .server)
        #expect(server(102, severity: 15).code == .syntaxError)
        #expect(server(208).code == .invalidObject)
        #expect(server(2627, severity: 14).code == .duplicateKey)
        #expect(server(2601, severity: 14).code == .duplicateKey)
        #expect(server(547).code == .constraintViolation)
        #expect(server(1205, severity: 13).code == .deadlock)
        #expect(server(50000).code == .server)
    }

    @Test func serverErrorsKeepTheServerDetail() {
        let error = server(2627, severity: 14)
        #expect(error.number == 2627)
        #expect(error.severity == 14)
        #expect(error.state == 1)
        #expect(error.line == 3)
        #expect(error.procedure == "p")
        #expect(error.message.contains("text 2627"))
        #expect("\(error)".contains("Msg 2627, Level 14, State 1, Procedure p, Line 3"))
    }

    @Test func libraryErrorsMapToDistinctCodes() {
        func library(_ number: Int, os: Int = 0, osText: String? = nil, _ phase: SQLServerError.Phase) -> SQLServerError.Code {
            SQLServerError.library(.init(number: number, severity: 9, text: "t", osErrorNumber: os, osErrorText: osText), during: phase, server: "h:1").code
        }
        #expect(library(20003, .login) == .loginTimeout)
        #expect(library(20003, .query) == .queryTimeout)
        #expect(library(20009, os: 111, osText: "Connection refused", .login) == .serverUnreachable)
        #expect(library(20013, .login) == .serverUnreachable)
        #expect(library(20009, os: 110, osText: "Connection timed out", .login) == .loginTimeout)
        #expect(library(20004, .query) == .connectionClosed)
        #expect(library(20047, .query) == .connectionClosed)
        #expect(library(20999, .query) == .clientLibrary)
    }

    @Test func retriability() {
        #expect(server(1205, severity: 13).isRetriable)
        #expect(server(1222).isRetriable)
        #expect(!server(2627, severity: 14).isRetriable)
        #expect(!server(18456, severity: 14, during: .login).isRetriable)
        #expect(SQLServerError(code: .queryTimeout, message: "").isRetriable)
        #expect(SQLServerError(code: .serverUnreachable, message: "").isRetriable)
        #expect(!SQLServerError(code: .syntaxError, message: "").isRetriable)
    }

    @Test func theMostRelevantErrorWins() {
        let generic = SQLServerError.library(.init(number: 20002, severity: 9, text: "connection failed"), during: .login, server: "h:1")
        let login = server(18456, severity: 14, during: .login)
        #expect(SQLServerError.mostRelevant([generic, login])?.code == .loginFailed)
        let first = server(2627, severity: 14)
        let second = server(3621, severity: 0)
        #expect(SQLServerError.mostRelevant([first, second])?.number == 2627)
        #expect(SQLServerError.mostRelevant([]) == nil)
    }
}

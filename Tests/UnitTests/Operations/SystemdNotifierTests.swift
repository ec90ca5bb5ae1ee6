import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import SluiceCore
import Testing
@testable import SluiceOperations

@Suite struct SystemdNotifierTests {
    // MARK: What is sent when (the state machine)

    @Test func readyIsSentOnceAndStatusOnlyWhenItChanges() {
        var state = SystemdNotifierState(watchdogInterval: nil)
        let t = ContinuousClock.now
        #expect(state.evaluate(ready: false, status: "starting", wedged: false, now: t) == "STATUS=starting")
        #expect(state.evaluate(ready: false, status: "starting", wedged: false, now: t) == nil)
        #expect(state.evaluate(ready: true, status: "ready: 1 component(s) up", wedged: false, now: t) == "READY=1\nSTATUS=ready: 1 component(s) up")
        #expect(state.evaluate(ready: false, status: "not ready: x down", wedged: false, now: t) == "STATUS=not ready: x down")
        #expect(state.evaluate(ready: true, status: "ready: 1 component(s) up", wedged: false, now: t) == "STATUS=ready: 1 component(s) up")
    }

    @Test func watchdogPingsEveryHalfIntervalAndNeverWhileWedged() {
        var state = SystemdNotifierState(watchdogInterval: .seconds(2))
        let t0 = ContinuousClock.now
        #expect(state.evaluate(ready: true, status: "s", wedged: false, now: t0) == "READY=1\nSTATUS=s\nWATCHDOG=1")
        #expect(state.evaluate(ready: true, status: "s", wedged: false, now: t0 + .milliseconds(999)) == nil)
        #expect(state.nextEvaluation(after: t0 + .milliseconds(900), tick: .seconds(5)) == t0 + .seconds(1))
        #expect(state.evaluate(ready: true, status: "s", wedged: false, now: t0 + .seconds(1)) == "WATCHDOG=1")
        // Wedged: no pings however long it lasts.
        for ms in stride(from: 1_100, through: 5_000, by: 100) {
            #expect(state.evaluate(ready: true, status: "s", wedged: true, now: t0 + .milliseconds(ms)) == nil)
        }
        // Moving again: a ping at once, then every second.
        #expect(state.evaluate(ready: true, status: "s", wedged: false, now: t0 + .milliseconds(5_050)) == "WATCHDOG=1")
        #expect(state.evaluate(ready: true, status: "s", wedged: false, now: t0 + .milliseconds(5_500)) == nil)
        #expect(state.evaluate(ready: true, status: "s", wedged: false, now: t0 + .milliseconds(6_050)) == "WATCHDOG=1")
    }

    @Test func stoppingIsItsOwnDatagram() {
        var state = SystemdNotifierState(watchdogInterval: .seconds(2))
        #expect(state.stopping(status: "draining") == "STOPPING=1\nSTATUS=draining")
    }

    // MARK: Environment

    @Test func configurationFollowsTheEnvironment() {
        let none = SystemdNotifier.Configuration(environment: [:], pid: 42)
        #expect(none.socket == nil && none.watchdogInterval == nil)

        let mine = SystemdNotifier.Configuration(environment: ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"], pid: 42)
        #expect(mine.socket?.address == "/run/systemd/notify")
        #expect(mine.watchdogInterval == .seconds(30))

        let other = SystemdNotifier.Configuration(environment: ["NOTIFY_SOCKET": "@notify", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"], pid: 42)
        #expect(other.socket?.address == "@notify")
        #expect(other.watchdogInterval == nil)

        #expect(SystemdNotifier.Configuration(environment: ["NOTIFY_SOCKET": "relative/path"], pid: 1).socket == nil)
    }

    // MARK: Datagrams on a real socket

    @Test(arguments: [false, true]) func sendsOneDatagramToAPathOrAbstractSocket(abstract: Bool) async throws {
        let listener = try DatagramListener(abstract: abstract)
        let socket = try #require(SystemdNotifySocket(address: listener.address))
        try socket.send("READY=1\nSTATUS=ok")
        let got = try await listener.wait { $0 == "READY=1\nSTATUS=ok" }
        #expect(got == ["READY=1\nSTATUS=ok"])
    }

    @Test func sendingToNobodyFailsWithTheAddress() {
        let socket = SystemdNotifySocket(address: "/nonexistent/sluice-notify")!
        #expect(throws: SystemdNotifyError.self) { try socket.send("READY=1") }
    }

    /// Runs `notifier` while `body` runs, then triggers graceful shutdown and waits for it to end.
    func running(_ notifier: SystemdNotifier, _ body: @Sendable () async throws -> Void) async throws {
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await notifier.run() }
                try await body()
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
    }

    @Test func serviceAnnouncesReadyOnlyWhenHealthyPingsAndStops() async throws {
        let listener = try DatagramListener(abstract: false)
        let health = HealthRegistry()
        health.set("source.a", .starting)
        var configuration = SystemdNotifier.Configuration(socket: SystemdNotifySocket(address: listener.address), watchdogInterval: .milliseconds(200))
        configuration.tick = .milliseconds(20)
        let notifier = SystemdNotifier(health: health, configuration: configuration, logger: Logger(label: "test"))
        try await running(notifier) {
            let first = try await listener.wait { $0.contains("WATCHDOG=1") }.joined(separator: "|")
            #expect(!first.contains("READY=1"))
            #expect(first.contains("STATUS=not ready: source.a starting"))
            health.set("source.a", .up)
            let ready = try await listener.wait { $0.contains("READY=1") }
            let readyStatus = ready.last ?? ""
            #expect(readyStatus.contains("STATUS=ready: 1 component(s) up"))
            // Pings arrive every ~100 ms.
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<3 { _ = try await listener.wait { $0.contains("WATCHDOG=1") } }
            let elapsed = clock.now - start
            let inRange = elapsed > .milliseconds(150) && elapsed < .milliseconds(900)
            #expect(inRange, "3 pings took \(elapsed)")
        }
        let rest = listener.drain()
        let stopping = rest.last ?? ""
        #expect(stopping.hasPrefix("STOPPING=1"), "\(rest)")
    }

    @Test func aWedgedComponentStopsThePings() async throws {
        let listener = try DatagramListener(abstract: true)
        let health = HealthRegistry()
        health.progress.grace = .milliseconds(100)
        health.set("sink.a", .up)
        health.progress.renew("sink.a")
        var configuration = SystemdNotifier.Configuration(socket: SystemdNotifySocket(address: listener.address), watchdogInterval: .milliseconds(100))
        configuration.tick = .milliseconds(10)
        let notifier = SystemdNotifier(health: health, configuration: configuration, logger: Logger(label: "test"))
        try await running(notifier) {
            let first = try await listener.wait { $0.contains("READY=1") }
            // No renewal: wedged after 100 ms; the status says so, then silence. (On a loaded machine the
            // first evaluation can come after the grace, and the wedged status with READY in one read.)
            if !first.contains(where: { $0.contains("wedged: sink.a") }) {
                _ = try await listener.wait { $0.contains("wedged: sink.a") }
            }
            try await Task.sleep(for: .milliseconds(300))
            let during = listener.drain()
            let pinged = during.contains { $0.contains("WATCHDOG=1") }
            #expect(!pinged, "\(during)")
            health.progress.renew("sink.a", expectingNextWithin: .seconds(60))
            _ = try await listener.wait { $0.contains("WATCHDOG=1") }
        }
    }

    @Test func withoutNotifySocketItSendsNothingAndWaitsForShutdown() async throws {
        let notifier = SystemdNotifier(health: HealthRegistry(), environment: [:], logger: Logger(label: "test"))
        try await running(notifier) { try await Task.sleep(for: .milliseconds(50)) }
    }
}

@Suite struct ProgressLeasesTests {
    @Test func aComponentIsWedgedOnlyPastItsExpectedWaitPlusGrace() {
        let leases = ProgressLeases(grace: .seconds(10))
        leases.renew("source.a", expectingNextWithin: .seconds(5))
        let now = ContinuousClock.now
        #expect(leases.wedged(at: now + .seconds(14)).isEmpty)
        #expect(leases.wedged(at: now + .seconds(16)).keys.sorted() == ["source.a"])
        leases.release("source.a")
        #expect(leases.wedged(at: now + .seconds(100)).isEmpty)
    }
}

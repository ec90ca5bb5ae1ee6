#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import ServiceLifecycle
import SluiceCore

/// Speaks systemd's notification protocol (sd_notify(3)) for a `Type=notify` unit, from the process's
/// `HealthRegistry`, without libsystemd: one datagram per change to `$NOTIFY_SOCKET`.
///
/// - `READY=1` once, when every component is ready (`/health/ready` is 200) for the first time;
/// - `STATUS=` with the health summary whenever it changes (`systemctl status` shows it);
/// - `WATCHDOG=1` every `WATCHDOG_USEC`/2 (when `WATCHDOG_PID`, if set, is this process) while no
///   component is wedged — see `ProgressLeases`: a component that stays silent `grace` past its own
///   expected renewal is wedged, the pings stop, and systemd's `WatchdogSec=` restarts the process;
/// - `STOPPING=1` when graceful shutdown (draining) begins.
///
/// Without `NOTIFY_SOCKET` it sends nothing and waits for shutdown. Add it last to the process's
/// services (`services + [SystemdNotifier(health: health, logger: logger)]`): a service group stops in
/// reverse order, so `STOPPING=1` goes out before the connectors drain.
public struct SystemdNotifier: Service {
    public struct Configuration: Sendable {
        public var socket: SystemdNotifySocket?
        /// `NOTIFY_SOCKET` as given (to name it when it is not a usable address).
        public var notifySocketVariable: String?
        /// `WATCHDOG_USEC` as a duration, when the watchdog is meant for this process.
        public var watchdogInterval: Duration?
        /// How often health is re-read for READY and STATUS.
        public var tick: Duration = .milliseconds(250)

        public init(socket: SystemdNotifySocket?, watchdogInterval: Duration?) {
            self.socket = socket
            self.watchdogInterval = watchdogInterval
        }

        /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
        public init(environment: [String: String], pid: Int32 = getpid()) {
            notifySocketVariable = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            socket = notifySocketVariable.flatMap(SystemdNotifySocket.init(address:))
            let watchdogPID = environment["WATCHDOG_PID"].flatMap(Int32.init)
            if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0, watchdogPID == nil || watchdogPID == pid {
                watchdogInterval = .microseconds(usec)
            } else {
                watchdogInterval = nil
            }
        }
    }

    let health: HealthRegistry
    let configuration: Configuration
    let logger: Logger

    public init(health: HealthRegistry, configuration: Configuration, logger: Logger) {
        self.health = health
        self.configuration = configuration
        self.logger = logger
    }

    /// Configured from the process environment.
    public init(health: HealthRegistry, environment: [String: String], logger: Logger) {
        self.init(health: health, configuration: Configuration(environment: environment), logger: logger)
    }

    public func run() async throws {
        guard let socket = configuration.socket else {
            if let address = configuration.notifySocketVariable {
                logger.warning("NOTIFY_SOCKET=\(address) is not a socket path or @name; not notifying systemd")
            }
            try? await gracefulShutdown()
            return
        }
        logger.info("Notifying systemd", metadata: [
            "sluice.systemd.socket": "\(socket)",
            "sluice.systemd.watchdog": "\(configuration.watchdogInterval.map { "every \($0 / 2)" } ?? "off")",
        ])
        var state = SystemdNotifierState(watchdogInterval: configuration.watchdogInterval)
        var wasWedged: [String: Duration] = [:]
        let clock = ContinuousClock()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = clock.now
            let wedged = health.progress.wedged(at: now)
            if wedged.isEmpty != wasWedged.isEmpty {
                if wedged.isEmpty {
                    logger.notice("Every component is making progress again; watchdog pings resume")
                } else {
                    logger.error("Watchdog pings stopped: no progress from \(Self.describe(wedged)); systemd restarts the process when WatchdogSec= runs out")
                }
            }
            wasWedged = wedged
            if let message = state.evaluate(ready: health.isReady, status: Self.status(health: health, wedged: wedged),
                                            wedged: !wedged.isEmpty, now: now) {
                send(message, to: socket)
            }
            let next = state.nextEvaluation(after: clock.now, tick: configuration.tick)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(until: next, clock: clock) }
        }
        if Task.isShuttingDownGracefully {
            send(state.stopping(status: "draining: storing positions and stopping"), to: socket)
        }
    }

    private func send(_ message: String, to socket: SystemdNotifySocket) {
        do {
            try socket.send(message)
            logger.trace("sd_notify", metadata: ["sluice.systemd.message": "\(message)"])
        } catch {
            logger.warning("Could not notify systemd: \(error)")
        }
    }

    /// The one-line health summary sent as `STATUS=`.
    static func status(health: HealthRegistry, wedged: [String: Duration]) -> String {
        let components = health.snapshot
        var text: String
        if health.isReady {
            text = "ready: \(components.count) component(s) up"
        } else if components.isEmpty {
            text = "starting"
        } else {
            let notUp = components.filter { $0.value != .up }.sorted { $0.key < $1.key }
            text = "not ready: " + notUp.map { name, status in
                status.reason.map { "\(name) \(status.name) (\($0))" } ?? "\(name) \(status.name)"
            }.joined(separator: "; ")
        }
        // Names only: the status changes when the set of wedged components does, not every tick.
        if !wedged.isEmpty { text += "; wedged: " + wedged.keys.sorted().joined(separator: ", ") }
        // STATUS is one line of a datagram; keep it short for `systemctl status`.
        text = text.replacingNewlines()
        return text.count > 400 ? String(text.prefix(399)) + "…" : text
    }

    static func describe(_ wedged: [String: Duration]) -> String {
        wedged.sorted { $0.key < $1.key }.map { "\($0.key) (overdue \($0.value))" }.joined(separator: ", ")
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        String(map { $0.isNewline ? " " : $0 })
    }
}

// The Swift face of a PocketPDS node: an actor with async functions over the generated bindings,
// the node's status as AsyncStreams (any number of observers) and its log lines forwarded to
// os_log by the library itself.
import Foundation

/// A PDS node hosted by the app.
///
/// ```swift
/// let pds = try PocketPds(config: NodeConfig(dataDirectory: dir.path), secretStore: KeychainSecretStore())
/// let info = try await pds.start()        // info.localUrl: http://127.0.0.1:2583
/// for await status in pds.statusUpdates() { ... }
/// try await pds.stop()
/// ```
/// Every failure is a `PdsError`; a configuration the daemon would refuse is refused by `init`.
public actor PocketPds {
    private let node: PdsNode
    private let broadcaster: StatusBroadcaster

    /// - Parameter secretStore: where the key sealing the node's secrets is kept (the Keychain);
    ///   without one it lives in a file of the data directory.
    public init(config: NodeConfig, secretStore: SecretStore? = nil) throws {
        node = try PdsNode(config: config, secretStore: secretStore)
        broadcaster = StatusBroadcaster(initial: node.status())
        try node.setListener(listener: broadcaster)
    }

    deinit {
        try? node.setListener(listener: nil)
        broadcaster.finishAll()
    }

    /// Sends the library's log lines to os_log (subsystem dev.pocketpds) from `level` up.
    public static func initLogging(_ level: LogLevel) {
        PocketPDS.initLogging(level: level)
    }

    /// The node's status now.
    public nonisolated var status: NodeStatus { broadcaster.current }

    /// A stream of the node's statuses, starting with the current one.
    public nonisolated func statusUpdates() -> AsyncStream<NodeStatus> { broadcaster.stream() }

    /// Starts serving; returns the node's URLs and the DIDs it hosts.
    public func start() async throws -> NodeInfo { try await node.start() }

    /// Stops serving (nothing happens on a stopped node).
    public func stop() async throws { try await node.stop() }

    /// Syncs with the cluster's primary database; a local node has nothing to sync.
    public func syncNow() async throws -> SyncReport { try await node.syncNow() }

    /// Tells the node whether the app is in the background: a replica stops its periodic syncs
    /// while it is and syncs at once when it comes back.
    public func setBackground(_ background: Bool) async throws { try await node.setBackground(background: background) }

    /// Creates an account with a new did:plc identity on the running node.
    public func createAccount(handle: String, password: String, email: String? = nil, inviteCode: String? = nil) async throws -> AccountInfo {
        try await node.createAccount(handle: handle, password: password, email: email, inviteCode: inviteCode)
    }

    /// The accounts of the running node.
    public func accounts() async throws -> [AccountInfo] { try await node.accounts() }

    /// The running node's details.
    public func report() async throws -> NodeReport { try await node.report() }
}

/// Receives the node's events (on its event thread) and fans the statuses out to the streams.
final class StatusBroadcaster: NodeListener, @unchecked Sendable {
    private let lock = NSLock()
    private var latest: NodeStatus
    private var continuations: [UUID: AsyncStream<NodeStatus>.Continuation] = [:]

    init(initial: NodeStatus) { latest = initial }

    var current: NodeStatus { lock.withLock { latest } }

    func stream() -> AsyncStream<NodeStatus> {
        AsyncStream(bufferingPolicy: .bufferingNewest(16)) { continuation in
            let id = UUID()
            lock.withLock {
                continuations[id] = continuation
                continuation.yield(latest)
            }
            continuation.onTermination = { [weak self] _ in
                self?.lock.withLock { _ = self?.continuations.removeValue(forKey: id) }
            }
        }
    }

    func finishAll() {
        let all = lock.withLock { () -> [AsyncStream<NodeStatus>.Continuation] in
            defer { continuations.removeAll() }
            return Array(continuations.values)
        }
        all.forEach { $0.finish() }
    }

    func onStatus(status: NodeStatus) throws {
        let targets = lock.withLock { () -> [AsyncStream<NodeStatus>.Continuation] in
            latest = status
            return Array(continuations.values)
        }
        targets.forEach { $0.yield(status) }
    }

    func onLog(level: LogLevel, target: String, message: String) throws {
        // The library already wrote the line to os_log.
    }
}

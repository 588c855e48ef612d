// The Swift suite, mirroring the Kotlin one (android/jvm): a node started from Swift hosts an
// account whose records are written and read over HTTP, statuses arrive through AsyncStream, sync in
// local mode, stop; bad configurations and misuse throw PdsError; twenty start/stop cycles leave the
// thread count flat; a Swift SecretStore keeps the key and another key cannot open the database.
// The account tests run a local PLC directory: `npm ci --prefix e2e` at the repository root first.
import Foundation
import XCTest
@testable import PocketPDS

/// The repository root (this file is ios/Tests/PocketPDSTests/PocketPDSTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `node e2e/plc-server.mjs 0`: an in-memory PLC directory.
final class PlcDirectory {
    let process = Process()
    let input = Pipe()
    let url: String

    init() throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["node", "e2e/plc-server.mjs", "0"]
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PLC_URL=") else { throw XCTSkip("the PLC directory did not start (run npm ci --prefix e2e): \(text)") }
        url = String(text.dropFirst("PLC_URL=".count))
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

final class MemorySecretStore: SecretStore, @unchecked Sendable {
    private let lock = NSLock()
    var secrets: [String: Data] = [:]
    var loads = 0
    var stores = 0

    func load(name: String) throws -> Data? {
        lock.withLock { loads += 1; return secrets[name] }
    }

    func store(name: String, secret: Data) throws {
        lock.withLock { stores += 1; secrets[name] = secret }
    }
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pocketpds-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

func config(_ dir: URL, plc: String? = nil) -> NodeConfig {
    NodeConfig(dataDirectory: dir.path, port: 0, didPlcUrl: plc, devMode: true)
}

func request(_ url: String, method: String = "GET", json: String? = nil, token: String? = nil) async throws -> (Int, [String: Any]) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    if let json {
        request.httpBody = Data(json.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    let (data, response) = try await URLSession.shared.data(for: request)
    let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, body)
}

final class PocketPDSTests: XCTestCase {
    func testANodeStartedFromSwiftHostsAnAccountWhoseRecordsAreWrittenAndReadOverHTTP() async throws {
        PocketPds.initLogging(.info)
        let plc = try PlcDirectory()
        defer { plc.stop() }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pds = try PocketPds(config: config(dir, plc: plc.url))
        var updates = pds.statusUpdates().makeAsyncIterator()
        let first = await updates.next()
        XCTAssertEqual(first, .stopped)
        let info = try await pds.start()
        let starting = await updates.next()
        XCTAssertEqual(starting, .starting)
        let running = await updates.next()
        XCTAssertEqual(running, .running(url: info.url, localUrl: info.localUrl, port: info.port))

        let account = try await pds.createAccount(handle: "alice.test", password: "correct horse battery staple")
        XCTAssertTrue(account.did.hasPrefix("did:plc:"))
        let accounts = try await pds.accounts()
        XCTAssertEqual(accounts.map(\.did), [account.did])

        let (status, session) = try await request(info.localUrl + "/xrpc/com.atproto.server.createSession", method: "POST",
                                                  json: #"{"identifier":"alice.test","password":"correct horse battery staple"}"#)
        XCTAssertEqual(status, 200)
        let token = try XCTUnwrap(session["accessJwt"] as? String)
        let record = #"{"repo":"\#(account.did)","collection":"app.bsky.feed.post","record":{"$type":"app.bsky.feed.post","text":"hello from Swift","createdAt":"2025-01-01T00:00:00.000Z"}}"#
        let (created, body) = try await request(info.localUrl + "/xrpc/com.atproto.repo.createRecord", method: "POST", json: record, token: token)
        XCTAssertEqual(created, 200)
        let rkey = try XCTUnwrap((body["uri"] as? String)?.split(separator: "/").last)
        let (read, got) = try await request(info.localUrl + "/xrpc/com.atproto.repo.getRecord?repo=\(account.did)&collection=app.bsky.feed.post&rkey=\(rkey)")
        XCTAssertEqual(read, 200)
        XCTAssertEqual((got["value"] as? [String: Any])?["text"] as? String, "hello from Swift")

        let sync = try await pds.syncNow()
        XCTAssertEqual(sync.storageMode, "local")
        XCTAssertFalse(sync.synced)

        try await pds.stop()
        let stopping = await updates.next()
        XCTAssertEqual(stopping, .stopping)
        let stopped = await updates.next()
        XCTAssertEqual(stopped, .stopped)
    }

    func testABadConfigurationIsRefusedWithTheNameOfTheSetting() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try PocketPds(config: NodeConfig(dataDirectory: dir.path, bind: "everywhere"))) { error in
            guard case PdsError.Config(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("PDS_BIND"), reason)
        }
        XCTAssertThrowsError(try PocketPds(config: NodeConfig(dataDirectory: "")))
    }

    func testMisuseThrowsErrorsThatSayWhatIsWrong() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pds = try PocketPds(config: config(dir))
        do {
            _ = try await pds.createAccount(handle: "bob.test", password: "correct horse battery")
            XCTFail("created an account on a stopped node")
        } catch PdsError.NotRunning(let reason) {
            XCTAssertTrue(reason.contains("start()"), reason)
        }
        _ = try await pds.start()
        do {
            _ = try await pds.start()
            XCTFail("started twice")
        } catch PdsError.AlreadyRunning {}
        do {
            _ = try await pds.createAccount(handle: "bob.example.com", password: "correct horse battery")
            XCTFail("accepted a handle outside the service domains")
        } catch PdsError.Refused(let error, _) {
            XCTAssertEqual(error, "InvalidHandle")
        }
        try await pds.stop()
    }

    func testTwentyStartAndStopCyclesLeaveTheThreadCountFlat() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func cycle() async throws {
            let pds = try PocketPds(config: config(dir))
            let info = try await pds.start()
            let (status, _) = try await request(info.localUrl + "/xrpc/_health")
            XCTAssertEqual(status, 200)
            try await pds.stop()
        }
        for _ in 0..<3 { try await cycle() }
        try await Task.sleep(nanoseconds: 500_000_000)
        let before = threadCount()
        for _ in 0..<20 { try await cycle() }
        try await Task.sleep(nanoseconds: 500_000_000)
        let after = threadCount()
        XCTAssertLessThanOrEqual(after, before + 2, "threads grew from \(before) to \(after)")
    }

    func testTheKeyComesFromTheSwiftStoreAndAnotherKeyCannotOpenTheSecrets() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = MemorySecretStore()
        do {
            let pds = try PocketPds(config: config(dir), secretStore: store)
            _ = try await pds.start()
            try await pds.stop()
        }
        XCTAssertEqual(store.loads, 1)
        XCTAssertEqual(store.stores, 1)
        let key = try XCTUnwrap(store.secrets["pocketpds.secrets-key.v1"])
        XCTAssertEqual(key.count, 32)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("secrets.key").path))
        let database = try Data(contentsOf: dir.appendingPathComponent("pocketpds.db"))
        XCTAssertNil(database.range(of: key))

        let other = MemorySecretStore()
        other.secrets["pocketpds.secrets-key.v1"] = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        let wrong = try PocketPds(config: config(dir), secretStore: other)
        do {
            _ = try await wrong.start()
            XCTFail("another key opened the secrets")
        } catch PdsError.SecretStore(let reason) {
            XCTAssertTrue(reason.contains("does not open"), reason)
        }
    }

    func testTheKeychainStoreKeepsASecret() throws {
        let store = KeychainSecretStore(service: "dev.pocketpds.tests.\(UUID().uuidString)")
        do {
            XCTAssertNil(try store.load(name: "k"))
            try store.store(name: "k", secret: Data([1, 2, 3]))
        } catch PdsError.SecretStore(let reason) where reason.contains("-34018") || reason.contains("-25308") {
            throw XCTSkip("no Keychain access in this test process: \(reason)")
        }
        XCTAssertEqual(try store.load(name: "k"), Data([1, 2, 3]))
        store.remove(name: "k")
        XCTAssertNil(try store.load(name: "k"))
    }
}

/// Threads of this process.
func threadCount() -> Int {
    var threads: thread_act_array_t?
    var count: mach_msg_type_number_t = 0
    guard task_threads(mach_task_self_, &threads, &count) == KERN_SUCCESS, let threads else { return -1 }
    vm_deallocate(mach_task_self_, vm_address_t(UInt(bitPattern: threads)), vm_size_t(Int(count) * MemoryLayout<thread_t>.stride))
    return Int(count)
}

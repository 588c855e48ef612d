// A node started from Kotlin: an account created through the bindings, a record written and read
// over HTTP, status changes through the StateFlow, sync in local mode, stop; bad configurations and
// misuse give PdsExceptions that say what is wrong.
package dev.pocketpds

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.net.ServerSocket

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NodeLifecycleTest {
    private lateinit var plc: PlcDirectory

    @BeforeAll
    fun startPlc() {
        PocketPds.initLogging(LogLevel.INFO)
        plc = PlcDirectory()
    }

    @AfterAll
    fun stopPlc() = plc.close()

    @Test
    fun `a node started from Kotlin hosts an account whose records are written and read over HTTP`() = runBlocking {
        val dir = newTempDir("pocketpds-node")
        try {
            PocketPds(testConfig(dir, plc.url)).use { pds ->
                assertEquals(NodeStatus.Stopped, pds.status.value)
                // Stopped, (Starting,) Running: seen through the StateFlow, fed by the event thread. A
                // StateFlow conflates, so a collector may miss the short Starting.
                val seen = async(start = CoroutineStart.UNDISPATCHED) {
                    val statuses = mutableListOf<NodeStatus>()
                    pds.status.first { statuses.add(it); it is NodeStatus.Running }
                    statuses
                }
                val info = pds.start()
                val statuses = withTimeout(10_000) { seen.await() }
                assertEquals(NodeStatus.Stopped, statuses.first())
                assertTrue(statuses == listOf(NodeStatus.Stopped, NodeStatus.Starting, statuses.last()) ||
                    statuses == listOf(NodeStatus.Stopped, statuses.last()), statuses.toString())
                val running = statuses.last() as NodeStatus.Running
                assertEquals(info.port, running.port)
                assertEquals(info.localUrl, running.localUrl)
                assertTrue(info.didList.isEmpty())

                val account = pds.createAccount("alice.test", "correct horse battery staple", email = "alice@example.com")
                assertTrue(account.did.startsWith("did:plc:"), account.did)
                assertEquals("alice.test", account.handle)
                assertEquals("active", account.status)
                assertEquals(listOf(account.did), pds.accounts().map { it.did })
                assertEquals(1UL, pds.report().accounts)

                val base = info.localUrl
                val session = post(
                    base, "/xrpc/com.atproto.server.createSession",
                    """{"identifier":"alice.test","password":"correct horse battery staple"}""",
                )
                assertEquals(200, session.status, session.body)
                val token = need(jsonField(session.body, "accessJwt"))
                val created = post(
                    base, "/xrpc/com.atproto.repo.createRecord",
                    """{"repo":"${account.did}","collection":"app.bsky.feed.post",
                       |"record":{"${'$'}type":"app.bsky.feed.post","text":"hello from Kotlin","createdAt":"2025-01-01T00:00:00.000Z"}}""".trimMargin(),
                    token,
                )
                assertEquals(200, created.status, created.body)
                val uri = need(jsonField(created.body, "uri"))
                val rkey = uri.substringAfterLast('/')
                val read = get(base, "/xrpc/com.atproto.repo.getRecord?repo=${account.did}&collection=app.bsky.feed.post&rkey=$rkey")
                assertEquals(200, read.status, read.body)
                assertTrue(read.body.contains("hello from Kotlin"), read.body)

                val sync = pds.syncNow()
                assertEquals("local", sync.storageMode)
                assertFalse(sync.synced)
                assertTrue(sync.message.contains("nothing to sync"), sync.message)

                pds.stop()
                withTimeout(10_000) { pds.status.first { it == NodeStatus.Stopped } }
                assertThrows<Exception> { get(base, "/xrpc/_health") }
                pds.stop() // stopping a stopped node does nothing

                // A second start serves the same account.
                val again = pds.start()
                assertEquals(listOf(account.did), again.didList)
                pds.stop()
            }
        } finally {
            deleteTree(dir)
        }
    }

    @Test
    fun `a bad configuration is refused with the name of the setting`() {
        val dir = newTempDir("pocketpds-bad")
        try {
            val bind = assertThrows<PdsException.Config> { PdsNode(NodeConfig(dataDirectory = dir.toString(), bind = "everywhere")) }
            assertTrue(bind.message!!.contains("PDS_BIND"), bind.message)
            assertTrue(bind.reason.contains("everywhere"), bind.reason)
            val domains = assertThrows<PdsException.Config> {
                PdsNode(NodeConfig(dataDirectory = dir.toString(), serviceHandleDomains = listOf("example.com")))
            }
            assertTrue(domains.message!!.contains("PDS_SERVICE_HANDLE_DOMAINS"), domains.message)
            val noDir = assertThrows<PdsException.Config> { PdsNode(NodeConfig(dataDirectory = "")) }
            assertTrue(noDir.message!!.contains("data_directory"), noDir.message)
        } finally {
            deleteTree(dir)
        }
    }

    @Test
    fun `misuse gives errors that say what is wrong, and the node stays usable`() = runBlocking {
        val dir = newTempDir("pocketpds-misuse")
        ServerSocket(0).use { taken ->
            try {
                PocketPds(testConfig(dir).copy(port = taken.localPort.toUShort())).use { pds ->
                    val busy = assertThrows<PdsException.Start> { runBlocking { pds.start() } }
                    assertTrue(busy.reason.contains("cannot listen"), busy.reason)
                    val failed = withTimeout(10_000) { pds.status.first { it is NodeStatus.Failed } }
                    assertTrue((failed as NodeStatus.Failed).reason.contains("cannot listen"), failed.reason)
                }
                PocketPds(testConfig(dir)).use { pds ->
                    val notRunning = assertThrows<PdsException.NotRunning> { runBlocking { pds.createAccount("bob.test", "correct horse battery") } }
                    assertTrue(notRunning.reason.contains("start()"), notRunning.reason)
                    pds.start()
                    assertThrows<PdsException.AlreadyRunning> { runBlocking { pds.start() } }
                    // The handle is checked before anything reaches a PLC directory.
                    val refused = assertThrows<PdsException.Refused> { runBlocking { pds.createAccount("bob.example.com", "correct horse battery") } }
                    assertEquals("InvalidHandle", refused.error)
                    assertTrue(withTimeout(10_000) { pds.status.first { it !is NodeStatus.Starting } } is NodeStatus.Running)
                    pds.stop()
                }
            } finally {
                deleteTree(dir)
            }
        }
    }
}

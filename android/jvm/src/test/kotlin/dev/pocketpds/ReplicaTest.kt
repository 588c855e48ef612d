// A phone's node following a cluster's primary: the app's NodeConfig names a real libSQL server
// (sqld, from SQLD_BIN or ../shared/tools/sqld), the node starts as an embedded replica, its report
// shows the mode, the primary, reachability, replication position and the registry, setBackground
// pauses the periodic syncs, and a primary that is not there fails start() with a PdsException
// naming it.
package dev.pocketpds

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.TimeUnit

class ReplicaTest {
    private fun sqldBinary(): File? {
        val bin = System.getenv("SQLD_BIN")?.let(::File) ?: File(repositoryRoot, "../shared/tools/sqld")
        if (bin.isFile) return bin
        val message = "SKIP ReplicaTest: no sqld at $bin; set SQLD_BIN to a libsql-server sqld binary"
        check(System.getenv("CI") == null) { "$message (CI must run it)" }
        System.err.println("!!!!! $message")
        return null
    }

    private fun freePort(): Int = ServerSocket(0).use { it.localPort }

    private val http1: HttpClient = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(2))
        .build()

    @Test
    fun `a node configured with a primary runs as its replica and reports where it stands`() = runBlocking {
        val bin = sqldBinary()
        assumeTrue(bin != null, "no sqld")
        val dir = newTempDir("pocketpds-replica")
        val port = freePort()
        val sqld = ProcessBuilder(
            bin!!.path, "--db-path", dir.resolve("primary").toString(),
            "--http-listen-addr", "127.0.0.1:$port", "--no-welcome",
        ).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start()
        try {
            val primary = "http://127.0.0.1:$port"
            val deadline = System.currentTimeMillis() + 20_000
            while (true) {
                // HTTP/1.1 only: sqld does not answer an h2c upgrade request.
                val up = runCatching {
                    http1.send(
                        HttpRequest.newBuilder(URI.create("$primary/health")).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.discarding(),
                    ).statusCode() == 200
                }.getOrDefault(false)
                if (up) break
                check(System.currentTimeMillis() < deadline) { "sqld did not start" }
                Thread.sleep(50)
            }
            val config = testConfig(dir.resolve("node")).copy(
                databaseUrl = primary,
                syncIntervalMs = 200UL,
                nodeId = "phone",
            )
            PocketPds(config).use { pds ->
                pds.start()
                val report = pds.report()
                assertEquals("replica", report.storageMode)
                assertEquals(primary, report.primaryUrl)
                assertTrue(report.primaryReachable)
                assertNotNull(report.replicationPosition)
                assertEquals(listOf("phone"), report.nodes.map { it.id })
                val sync = pds.syncNow()
                assertTrue(sync.synced, sync.message)
                assertEquals("replica", sync.storageMode)

                pds.setBackground(true)
                assertTrue(pds.report().syncPaused)
                pds.setBackground(false)
                assertFalse(pds.report().syncPaused)
                pds.stop()
            }

            // Nothing listens there: start() fails in time and says which primary.
            val nowhere = testConfig(dir.resolve("other")).copy(databaseUrl = "http://127.0.0.1:${freePort()}")
            PocketPds(nowhere).use { pds ->
                val failed = assertThrows<PdsException.Primary> { runBlocking { pds.start() } }
                assertTrue(failed.message!!.contains("unreachable"), failed.message)
            }
        } finally {
            sqld.destroyForcibly()
            sqld.waitFor(5, TimeUnit.SECONDS)
            deleteTree(dir)
        }
    }
}

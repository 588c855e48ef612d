// Footprint figures of a node hosted by the JVM, printed and never asserted (goals: first request
// within 100 ms of start, under 5 ms of CPU over 10 idle seconds, RSS growth under 15 MB). Run on
// request through bindings/footprint.sh (tag "footprint", excluded from the normal suite).
package dev.pocketpds

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test
import java.lang.management.ManagementFactory

@Tag("footprint")
class FootprintTest {
    private fun processCpuNanos(): Long =
        (ManagementFactory.getOperatingSystemMXBean() as com.sun.management.OperatingSystemMXBean).processCpuTime

    /** Milliseconds from start() to the first answered request. */
    private suspend fun startToFirstRequest(pds: PocketPds): Pair<Double, NodeInfo> {
        val begin = System.nanoTime()
        val info = pds.start()
        check(get(info.localUrl, "/xrpc/_health").status == 200)
        return (System.nanoTime() - begin) / 1e6 to info
    }

    @Test
    fun `print the footprint of a node`() = runBlocking {
        val dir = newTempDir("pocketpds-footprint")
        val warmDir = newTempDir("pocketpds-footprint-warm")
        try {
            System.gc()
            val rssBeforeLibrary = rssBytes()
            val pds = PocketPds(testConfig(dir))
            val rssLoaded = rssBytes()
            val (coldMs, info) = startToFirstRequest(pds)
            repeat(20) { get(info.localUrl, "/xrpc/com.atproto.server.describeServer") }
            val rssStarted = rssBytes()

            // Idle: the node's own threads (runtime workers, blocking pool, event thread), over 10 s.
            Thread.sleep(1000)
            val nodeCpu0 = threadCpuNanos("pocketpds")
            val processCpu0 = processCpuNanos()
            Thread.sleep(10_000)
            val idleNodeMs = (threadCpuNanos("pocketpds") - nodeCpu0) / 1e6
            val idleProcessMs = (processCpuNanos() - processCpu0) / 1e6

            pds.stop()
            val (restartMs, _) = startToFirstRequest(pds)
            pds.stop()
            pds.close()
            // A second node in a fresh folder, with the library and the JVM warm.
            val (warmMs, _) = PocketPds(testConfig(warmDir)).use { warm ->
                startToFirstRequest(warm).also { warm.stop() }
            }
            println("footprint: start -> first request (new database, cold JVM): %.1f ms".format(coldMs))
            println("footprint: start -> first request (restart, existing database): %.1f ms".format(restartMs))
            println("footprint: start -> first request (new database, warm JVM): %.1f ms".format(warmMs))
            println("footprint: idle CPU over 10 s, node threads: %.2f ms (whole JVM: %.1f ms)".format(idleNodeMs, idleProcessMs))
            println("footprint: RSS growth, library load: %.1f MB".format((rssLoaded - rssBeforeLibrary) / 1e6))
            println("footprint: RSS growth, started node after 21 requests: %.1f MB (%.1f MB with the library load)".format(
                (rssStarted - rssLoaded) / 1e6, (rssStarted - rssBeforeLibrary) / 1e6))
        } finally {
            deleteTree(dir)
            deleteTree(warmDir)
        }
    }
}

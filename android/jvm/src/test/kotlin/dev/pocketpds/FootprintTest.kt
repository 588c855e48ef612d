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

    private var lastStartMs = 0.0

    /** Milliseconds from start() to the first answered request ([lastStartMs]: start() alone). */
    private suspend fun startToFirstRequest(pds: PocketPds): Pair<Double, NodeInfo> {
        val begin = System.nanoTime()
        val info = pds.start()
        lastStartMs = (System.nanoTime() - begin) / 1e6
        check(get(info.localUrl, "/xrpc/_health").status == 200)
        return (System.nanoTime() - begin) / 1e6 to info
    }

    @Test
    fun `print the footprint of a node`() = runBlocking {
        val dir = newTempDir("pocketpds-footprint")
        val warmDir = newTempDir("pocketpds-footprint-warm")
        try {
            val pds = PocketPds(testConfig(dir))
            val rssLoaded = rssBytes()
            val (coldMs, info) = startToFirstRequest(pds)
            val coldStartMs = lastStartMs
            repeat(20) { get(info.localUrl, "/xrpc/com.atproto.server.describeServer") }
            val rssStarted = rssBytes()
            // The measure of the node's threads sees their work: what starting and serving cost.
            val busyNodeMs = threadCpuNanos("pocketpds") / 1e6

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
            println("footprint: start -> first request (new database, cold JVM): %.1f ms (start() alone: %.1f ms)".format(coldMs, coldStartMs))
            println("footprint: start -> first request (restart, existing database): %.1f ms".format(restartMs))
            println("footprint: start -> first request (new database, warm JVM): %.1f ms".format(warmMs))
            println("footprint: idle CPU over 10 s, node threads: %.2f ms (whole JVM: %.1f ms; the node's threads used %.1f ms to start and serve 21 requests)".format(idleNodeMs, idleProcessMs, busyNodeMs))
            println("footprint: RSS growth of the process from a created node to a started one after 21 requests: %.1f MB".format(
                (rssStarted - rssLoaded) / 1e6))
        } finally {
            deleteTree(dir)
            deleteTree(warmDir)
        }
    }
}

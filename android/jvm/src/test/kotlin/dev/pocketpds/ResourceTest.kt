// Twenty start/stop cycles, each with a new node that serves a request and is closed, leave the
// JVM's thread count, the process's thread count and its RSS flat.
package dev.pocketpds

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class ResourceTest {
    private fun cycle(dir: java.nio.file.Path) = runBlocking {
        PocketPds(testConfig(dir)).use { pds ->
            val info = pds.start()
            assertEquals(200, get(info.localUrl, "/xrpc/_health").status)
            pds.stop()
        }
    }

    private fun settle() {
        repeat(3) {
            System.gc()
            Thread.sleep(200)
        }
    }

    @Test
    fun `twenty start and stop cycles leave threads and memory flat`() {
        val dir = newTempDir("pocketpds-cycles")
        try {
            repeat(3) { cycle(dir) } // warm up: classes, JIT, allocator arenas
            settle()
            val jvmBefore = jvmThreads()
            val processBefore = processThreads()
            val rssBefore = rssBytes()
            repeat(20) { cycle(dir) }
            settle()
            val jvmAfter = jvmThreads()
            val processAfter = processThreads()
            val rssAfter = rssBytes()
            println("20 cycles: JVM threads $jvmBefore -> $jvmAfter, process threads $processBefore -> $processAfter, " +
                "RSS ${rssBefore / 1024} KiB -> ${rssAfter / 1024} KiB")
            assertTrue(jvmAfter <= jvmBefore + 2, "JVM threads grew from $jvmBefore to $jvmAfter")
            assertTrue(processAfter <= processBefore + 2, "process threads grew from $processBefore to $processAfter")
            val growth = rssAfter - rssBefore
            assertTrue(growth < 16L * 1024 * 1024, "RSS grew by ${growth / 1024} KiB over 20 cycles")
        } finally {
            deleteTree(dir)
        }
    }
}

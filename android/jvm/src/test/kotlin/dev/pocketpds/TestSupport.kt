// Helpers of the JVM tests: a real PLC directory (e2e/plc-server.mjs on loopback), XRPC calls over
// java.net.http, a SecretStore in memory, and process measurements (threads, RSS).
package dev.pocketpds

import java.io.File
import java.lang.management.ManagementFactory
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/** The repository root (set by the Maven build). */
val repositoryRoot: File = File(System.getProperty("pocketpds.root") ?: "../..").canonicalFile

/** `node e2e/plc-server.mjs 0`: an in-memory PLC directory, stopped by [close]. */
class PlcDirectory : AutoCloseable {
    private val process: Process
    val url: String

    init {
        val packageJson = File(repositoryRoot, "e2e/node_modules/@did-plc/server/package.json")
        check(packageJson.isFile) { "run `npm ci --prefix e2e` first: $packageJson is missing" }
        process = ProcessBuilder("node", "e2e/plc-server.mjs", "0")
            .directory(repositoryRoot)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val line = process.inputStream.bufferedReader().readLine()
            ?: error("the PLC directory did not start")
        url = line.removePrefix("PLC_URL=").also { check(it != line) { "unexpected line: $line" } }
    }

    override fun close() {
        process.outputStream.close()
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly()
    }
}

/** A config for a test node: free port, dev mode, the given PLC directory. */
fun testConfig(dir: Path, plcUrl: String? = null) = NodeConfig(
    dataDirectory = dir.toString(),
    port = 0.toUShort(),
    devMode = true,
    didPlcUrl = plcUrl,
)

val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()

/** [value], or a failed test when it is null. */
fun <T : Any> need(value: T?): T = value ?: org.junit.jupiter.api.Assertions.fail("unexpectedly null")

/** A response: status and body. */
data class Reply(val status: Int, val body: String)

fun get(base: String, path: String, token: String? = null): Reply {
    val request = HttpRequest.newBuilder(URI.create(base + path)).GET()
    token?.let { request.header("Authorization", "Bearer $it") }
    val response = http.send(request.build(), HttpResponse.BodyHandlers.ofString())
    return Reply(response.statusCode(), response.body())
}

fun post(base: String, path: String, json: String, token: String? = null): Reply {
    val request = HttpRequest.newBuilder(URI.create(base + path))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json))
    token?.let { request.header("Authorization", "Bearer $it") }
    val response = http.send(request.build(), HttpResponse.BodyHandlers.ofString())
    return Reply(response.statusCode(), response.body())
}

/** The string value of a top-level JSON field (enough for the flat XRPC answers used here). */
fun jsonField(json: String, name: String): String? =
    Regex("\"" + Regex.escape(name) + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").find(json)?.groupValues?.get(1)

/** A SecretStore in memory that counts its calls. */
class MemorySecretStore : SecretStore {
    val secrets = ConcurrentHashMap<String, ByteArray>()
    val loads = AtomicInteger()
    val stores = AtomicInteger()

    override fun load(name: String): ByteArray? {
        loads.incrementAndGet()
        return secrets[name]?.copyOf()
    }

    override fun store(name: String, secret: ByteArray) {
        stores.incrementAndGet()
        secrets[name] = secret.copyOf()
    }
}

/** Threads of the JVM. */
fun jvmThreads(): Int = ManagementFactory.getThreadMXBean().threadCount

/** All threads of the process (native ones included). */
fun processThreads(): Int = File("/proc/self/task").list()?.size ?: -1

/** Resident set size of the process, in bytes. */
fun rssBytes(): Long {
    val line = File("/proc/self/status").readLines().first { it.startsWith("VmRSS:") }
    return line.split(Regex("\\s+"))[1].toLong() * 1024
}

/** Nanoseconds of CPU used so far by the threads whose names start with [prefix]. */
fun threadCpuNanos(prefix: String): Long {
    val tasks = File("/proc/self/task").listFiles() ?: return 0
    return tasks.sumOf { task ->
        val name = runCatching { File(task, "comm").readText().trim() }.getOrDefault("")
        if (!name.startsWith(prefix)) 0L
        else runCatching { File(task, "schedstat").readText().trim().split(" ")[0].toLong() }.getOrDefault(0L)
    }
}

/** Every byte of every file of [dir] (database, WAL, key files). */
fun filesOf(dir: Path): List<Pair<Path, ByteArray>> =
    Files.list(dir).use { paths -> paths.filter(Files::isRegularFile).toList() }.map { it to Files.readAllBytes(it) }

fun newTempDir(prefix: String): Path = Files.createTempDirectory(prefix)

fun deleteTree(dir: Path) {
    dir.toFile().deleteRecursively()
}

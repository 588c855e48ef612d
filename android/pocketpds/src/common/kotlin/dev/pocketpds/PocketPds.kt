// The Kotlin face of a PocketPDS node, shared by the Android library and the desktop JVM build:
// suspend functions over the generated bindings, the node's status as a StateFlow and its log lines
// as a SharedFlow. No Android types here (the Service and the Keystore store live in src/main).
package dev.pocketpds

import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.asStateFlow

/** One log line of the node. */
data class LogLine(val level: LogLevel, val target: String, val message: String)

/**
 * A PDS node hosted by the app.
 *
 * ```
 * val pds = PocketPds(NodeConfig(dataDirectory = filesDir.path), secretStore = KeystoreSecretStore(context))
 * val info = pds.start()            // info.localUrl: http://127.0.0.1:2583
 * pds.status.collect { ... }        // Stopped, Starting, Running, Stopping, Failed
 * pds.stop(); pds.close()
 * ```
 *
 * Every failure is a [PdsException]; a configuration the daemon would refuse is refused by the
 * constructor, with the name of the setting at fault.
 *
 * @param secretStore where the key sealing the node's secrets is kept (Android Keystore, a test's
 *   memory); without one the key lives in a file of the data directory.
 */
class PocketPds(config: NodeConfig, secretStore: SecretStore? = null) : AutoCloseable {
    private val node = PdsNode(config, secretStore)
    private val statusFlow = MutableStateFlow(node.status())
    private val logFlow = MutableSharedFlow<LogLine>(
        extraBufferCapacity = LOG_BUFFER,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )

    /** The node's status; the newest value always wins. */
    val status: StateFlow<NodeStatus> = statusFlow.asStateFlow()

    /** Log lines at or above the level given to [initLogging]; old lines are dropped when nobody keeps up. */
    val logs: SharedFlow<LogLine> = logFlow.asSharedFlow()

    init {
        node.setListener(FlowListener(statusFlow, logFlow))
    }

    /** Starts serving; returns the node's URLs and the DIDs it hosts. */
    suspend fun start(): NodeInfo = node.start()

    /** Stops serving (nothing happens on a stopped node). */
    suspend fun stop() = node.stop()

    /** Syncs with the cluster's primary database; a local node has nothing to sync. */
    suspend fun syncNow(): SyncReport = node.syncNow()

    /**
     * Tells the node whether the app is in the background: a replica stops its periodic syncs
     * while it is (no timer wakes the device) and syncs at once when it comes back.
     */
    suspend fun setBackground(background: Boolean) = node.setBackground(background)

    /** Hands the node's mail (one-time codes) to the app from the next [start]; `null`: the log. */
    fun setMailer(mailer: Mailer?) = node.setMailer(mailer)

    /** Creates an account with a new did:plc identity on the running node. */
    suspend fun createAccount(
        handle: String,
        password: String,
        email: String? = null,
        inviteCode: String? = null,
    ): AccountInfo = node.createAccount(handle, password, email, inviteCode)

    /** The accounts of the running node. */
    suspend fun accounts(): List<AccountInfo> = node.accounts()

    /** The running node's details. */
    suspend fun report(): NodeReport = node.report()

    /** Stops the node if it runs and frees it. The object cannot be used afterwards. */
    override fun close() {
        node.setListener(null)
        node.close()
    }

    companion object {
        private const val LOG_BUFFER = 256

        /** Sends the library's logs to the platform's log (logcat, stderr) and to [logs], from [level] up. */
        fun initLogging(level: LogLevel) = dev.pocketpds.initLogging(level)
    }
}

/** Feeds the flows from the node's event thread. Holds no reference to the node (no cycle). */
private class FlowListener(
    private val status: MutableStateFlow<NodeStatus>,
    private val logs: MutableSharedFlow<LogLine>,
) : NodeListener {
    override fun onStatus(status: NodeStatus) {
        this.status.value = status
    }

    override fun onLog(level: LogLevel, target: String, message: String) {
        logs.tryEmit(LogLine(level, target, message))
    }
}

// A foreground Service that hosts one PDS node for the app: start it with PocketPdsService.start
// (it shows a notification while the node serves), stop it with PocketPdsService.stop; its status
// is PocketPdsService.status. The node's database lives in the app's private files folder and its
// secrets are sealed with a key kept by the Android Keystore.
package dev.pocketpds.android

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.Service
import android.content.Context
import android.content.Intent
import android.content.pm.ServiceInfo
import android.os.Build
import android.os.IBinder
import androidx.core.app.NotificationCompat
import androidx.core.app.ServiceCompat
import androidx.core.content.ContextCompat
import dev.pocketpds.LogLevel
import dev.pocketpds.NodeConfig
import dev.pocketpds.NodeStatus
import dev.pocketpds.PocketPds
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import java.io.File

class PocketPdsService : Service() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    private var pds: PocketPds? = null
    private var mirror: Job? = null

    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        ServiceCompat.startForeground(
            this, NOTIFICATION_ID, notification("Starting"),
            if (Build.VERSION.SDK_INT >= 34) ServiceInfo.FOREGROUND_SERVICE_TYPE_SPECIAL_USE else 0,
        )
        if (pds == null) {
            PocketPds.initLogging(LogLevel.INFO)
            val config = NodeConfig(
                dataDirectory = File(filesDir, "pocketpds").path,
                port = intent?.getIntExtra(EXTRA_PORT, DEFAULT_PORT)?.toUShort(),
            )
            val node = PocketPds(config, KeystoreSecretStore(this))
            pds = node
            mirror = scope.launch {
                node.status.collect { status ->
                    statusFlow.value = status
                    getSystemService(NotificationManager::class.java)
                        .notify(NOTIFICATION_ID, notification(describe(status)))
                }
            }
            scope.launch {
                runCatching { node.start() }.onFailure { stopSelf() }
            }
        }
        return START_STICKY
    }

    override fun onDestroy() {
        val node = pds
        pds = null
        if (node != null) {
            // Stop serving before the process may be reclaimed; the node stops within seconds.
            runBlocking { runCatching { node.stop() } }
            node.close()
        }
        mirror?.cancel()
        scope.cancel()
        statusFlow.value = NodeStatus.Stopped
        super.onDestroy()
    }

    private fun notification(text: String): Notification {
        val manager = getSystemService(NotificationManager::class.java)
        if (Build.VERSION.SDK_INT >= 26 && manager.getNotificationChannel(CHANNEL_ID) == null) {
            manager.createNotificationChannel(
                NotificationChannel(CHANNEL_ID, "PocketPDS node", NotificationManager.IMPORTANCE_LOW),
            )
        }
        return NotificationCompat.Builder(this, CHANNEL_ID)
            .setContentTitle("PocketPDS")
            .setContentText(text)
            .setSmallIcon(android.R.drawable.stat_sys_upload_done)
            .setOngoing(true)
            .build()
    }

    companion object {
        const val EXTRA_PORT = "dev.pocketpds.extra.PORT"
        const val DEFAULT_PORT = 2583
        private const val CHANNEL_ID = "pocketpds"
        private const val NOTIFICATION_ID = 2583

        private val statusFlow = MutableStateFlow<NodeStatus>(NodeStatus.Stopped)

        /** The status of the node the service hosts. */
        val status: StateFlow<NodeStatus> = statusFlow.asStateFlow()

        /** Starts the service and its node (a no-op when it runs). */
        fun start(context: Context, port: Int = DEFAULT_PORT) {
            val intent = Intent(context, PocketPdsService::class.java).putExtra(EXTRA_PORT, port)
            ContextCompat.startForegroundService(context, intent)
        }

        /** Stops the node and the service. */
        fun stop(context: Context) {
            context.stopService(Intent(context, PocketPdsService::class.java))
        }

        /** A short text for a status. */
        fun describe(status: NodeStatus): String = when (status) {
            is NodeStatus.Stopped -> "Stopped"
            is NodeStatus.Starting -> "Starting"
            is NodeStatus.Running -> "Serving ${status.localUrl}"
            is NodeStatus.Stopping -> "Stopping"
            is NodeStatus.Failed -> "Failed: ${status.reason}"
        }
    }
}

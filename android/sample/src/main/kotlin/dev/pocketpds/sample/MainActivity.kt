// The sample app's one screen: Start and Stop buttons for the node service, its status and URL.
package dev.pocketpds.sample

import android.Manifest
import android.app.Activity
import android.os.Build
import android.os.Bundle
import android.widget.Button
import android.widget.TextView
import dev.pocketpds.NodeStatus
import dev.pocketpds.android.PocketPdsService
import kotlinx.coroutines.Job
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

class MainActivity : Activity() {
    private val scope = MainScope()
    private var watching: Job? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        if (Build.VERSION.SDK_INT >= 33) {
            requestPermissions(arrayOf(Manifest.permission.POST_NOTIFICATIONS), 1)
        }
        findViewById<Button>(R.id.start).setOnClickListener { PocketPdsService.start(this) }
        findViewById<Button>(R.id.stop).setOnClickListener { PocketPdsService.stop(this) }
        val statusView = findViewById<TextView>(R.id.status)
        val urlView = findViewById<TextView>(R.id.url)
        watching = scope.launch {
            PocketPdsService.status.collect { status ->
                statusView.text = PocketPdsService.describe(status)
                urlView.text = (status as? NodeStatus.Running)?.let { "${it.localUrl}\n${it.url}" } ?: ""
            }
        }
    }

    override fun onDestroy() {
        watching?.cancel()
        scope.cancel()
        super.onDestroy()
    }
}

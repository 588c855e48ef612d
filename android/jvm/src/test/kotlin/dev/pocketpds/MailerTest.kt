// The app's mail transport: a Kotlin Mailer set on the node receives the one-time codes the node
// sends (here, the code confirming an account's deletion), instead of the node's log.
package dev.pocketpds

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MailerTest {
    private lateinit var plc: PlcDirectory

    @BeforeAll
    fun startPlc() {
        plc = PlcDirectory()
    }

    @AfterAll
    fun stopPlc() = plc.close()

    private class Recording : Mailer {
        val sent = LinkedBlockingQueue<MailMessage>()
        override fun send(message: MailMessage) {
            sent.put(message)
        }
    }

    @Test
    fun `the node hands its one-time codes to the app's mailer`() = runBlocking {
        val dir = newTempDir("pocketpds-mailer")
        try {
            PocketPds(testConfig(dir, plc.url)).use { pds ->
                val mailer = Recording()
                pds.setMailer(mailer)
                val info = pds.start()
                pds.createAccount("mel.test", "correct horse battery staple", email = "mel@example.com")
                val session = post(
                    info.localUrl, "/xrpc/com.atproto.server.createSession",
                    """{"identifier":"mel.test","password":"correct horse battery staple"}""",
                )
                assertEquals(200, session.status, session.body)
                val token = need(jsonField(session.body, "accessJwt"))
                val asked = post(info.localUrl, "/xrpc/com.atproto.server.requestAccountDelete", "{}", token)
                assertEquals(200, asked.status, asked.body)
                val message = need(mailer.sent.poll(10, TimeUnit.SECONDS))
                assertEquals("mel@example.com", message.to)
                assertTrue(Regex("[A-Z2-7]{5}-[A-Z2-7]{5}").containsMatchIn(message.text), message.text)
                assertTrue(message.html.isNotEmpty())
                pds.stop()
            }
        } finally {
            deleteTree(dir)
        }
    }
}

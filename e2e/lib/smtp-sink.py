"""A real SMTP server on loopback for the mail tests: aiosmtpd, which writes every message it
receives to a JSON file (envelope recipients, subject, plain-text and HTML parts) in the folder
given as the first argument. Prints SMTP_PORT=<port> once it accepts connections; runs until
SIGTERM."""
import asyncio
import email
import email.policy
import json
import os
import signal
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        self.count += 1
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "text": plain.get_content() if plain else None,
            "html": html.get_content() if html else None,
        }
        path = os.path.join(self.folder, "%04d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    folder = sys.argv[1]
    controller = Controller(Sink(folder), hostname="127.0.0.1", port=free_port())
    controller.start()
    print("SMTP_PORT=%d" % controller.port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()

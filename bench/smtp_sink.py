"""A local SMTP server for `make bench`: accepts every message and appends its Message-ID to a
file, one line each, so the bench can count what arrived and what arrived twice.

Usage: .venv/bin/python bench/smtp_sink.py OUT_FILE  (prints the port it listens on)
"""

import re
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        headers = envelope.content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(headers)
        self.out.write((found.group(1).decode() if found else "-") + "\n")
        self.out.flush()
        return "250 OK"


def main() -> None:
    with open(sys.argv[1], "a") as out:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
        controller.start()
        print(port, flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        controller.stop()


if __name__ == "__main__":
    main()

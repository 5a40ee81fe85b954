#!/usr/bin/env python3
"""A tiny receiver for Tack's webhooks, to try an endpoint locally (standard library only).

    python scripts/webhook_receiver.py --port 9000 --secret whsec_...

Register http://127.0.0.1:9000/ as an endpoint in the admin, copy its signing secret here,
and every event is printed with its verification; a bad signature is answered 400, and
``--fail N`` answers the first N deliveries 500 to watch Tack retry.
"""

import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """True if ``Tack-Signature`` matches ``body`` and was made in the last 5 minutes."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False  # a replay of an old delivery
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", required=True, help="the endpoint's signing secret")
    parser.add_argument("--fail", type=int, default=0, help="answer the first N with 500")
    args = parser.parse_args()
    seen: set[str] = set()
    failures = [args.fail]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            ok = verify(args.secret, self.headers.get("Tack-Signature", ""), body)
            event = json.loads(body) if ok else {}
            duplicate = event.get("id") in seen
            seen.add(event.get("id"))
            status = 400 if not ok else 500 if failures[0] > 0 else 200
            failures[0] -= status == 500
            print(
                f"{status} {'verified' if ok else 'BAD SIGNATURE'}"
                f"{' duplicate' if duplicate else ''} {event.get('type', '')} "
                f"id={event.get('id', '')} sequence={event.get('sequence', '')}",
                flush=True,
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{args.port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

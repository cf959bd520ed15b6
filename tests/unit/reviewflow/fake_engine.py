"""Stands in for ``java ... -jar reviewflow-engine.jar`` in unit tests (no Java, no Operaton).

The fake ``bin/java`` of the tests runs ``python fake_engine.py <java args>``. Like the real
engine it reads ``REVIEWFLOW_ENGINE_BIND`` and ``REVIEWFLOW_ENGINE_PORT``, then, by
``FAKE_ENGINE_MODE``:

- ``ok``: answers ``GET /engine-rest/engine`` with the default engine, exits on SIGTERM;
- ``crash``: prints an error and exits with code 3;
- ``hang``: never becomes ready;
- ``stubborn``: like ``ok`` but ignores SIGTERM (only SIGKILL stops it).

It prints what the engine was given, so tests can check it in the log: never the password
itself, only whether one arrived and its length.
"""

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    mode = os.environ.get("FAKE_ENGINE_MODE", "ok")
    for name in (
        "JAVA_HOME",
        "REVIEWFLOW_ENGINE_BIND",
        "REVIEWFLOW_ENGINE_PORT",
        "REVIEWFLOW_ENGINE_STATE",
        "REVIEWFLOW_ENGINE_ADMIN_USER",
        "REVIEWFLOW_ENGINE_JDBC_URL",
        "REVIEWFLOW_ENGINE_DB_USER",
        "OPERATON_BPM_DATABASE_TYPE",
    ):
        print(f"fake-engine env {name}={os.environ.get(name, '')}", flush=True)
    password = os.environ.get("REVIEWFLOW_ENGINE_ADMIN_PASSWORD", "")
    print(f"fake-engine admin password length {len(password)}", flush=True)
    print(f"fake-engine argv {sys.argv[1:]}", flush=True)
    if mode == "crash":
        print("fake-engine: APPLICATION FAILED TO START on purpose", flush=True)
        sys.exit(3)
    if mode == "hang":
        while True:
            time.sleep(1)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/engine-rest/engine":
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps([{"name": "default"}]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    time.sleep(0.3)  # become ready a little later, like a real engine
    server = ThreadingHTTPServer(
        (os.environ["REVIEWFLOW_ENGINE_BIND"], int(os.environ["REVIEWFLOW_ENGINE_PORT"])), Handler
    )
    print("fake-engine ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

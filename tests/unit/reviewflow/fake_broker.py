"""Stands in for the distribution's ``bin/broker`` in unit tests (no Java, no Zeebe).

Reads the ports from the YAML named by ``SPRING_CONFIG_ADDITIONAL_LOCATION`` like the real
broker, then, by ``FAKE_BROKER_MODE``:

- ``ok``: answers readiness (management port) and ``/v2/topology`` (REST port), accepts TCP on
  the gRPC port, exits on SIGTERM;
- ``crash``: prints an error and exits with code 3;
- ``hang``: never becomes ready;
- ``stubborn``: like ``ok`` but ignores SIGTERM (only SIGKILL stops it).

It prints the variables the engine must set, so tests can check them in the log.
"""

import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml


def main() -> None:
    mode = os.environ.get("FAKE_BROKER_MODE", "ok")
    for name in ("JAVA_HOME", "JAVA_OPTS", "SPRING_CONFIG_ADDITIONAL_LOCATION"):
        print(f"fake-broker env {name}={os.environ.get(name, '')}", flush=True)
    print(f"fake-broker argv {sys.argv[1:]}", flush=True)
    if mode == "crash":
        print("fake-broker: FATAL something went wrong on purpose", flush=True)
        sys.exit(3)
    location = os.environ["SPRING_CONFIG_ADDITIONAL_LOCATION"].removeprefix("file:")
    with open(location) as handle:
        config = yaml.safe_load(handle)
    host = config["server"]["address"]
    rest_port = config["server"]["port"]
    management_port = config["management"]["server"]["port"]
    grpc_port = config["zeebe"]["broker"]["gateway"]["network"]["port"]
    if mode == "hang":
        while True:
            time.sleep(1)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body: dict[str, object]
            if self.path == "/actuator/health/readiness":
                body = {"status": "UP"}
            elif self.path == "/v2/topology":
                body = {
                    "brokers": [
                        {
                            "nodeId": 0,
                            "host": host,
                            "port": 1,
                            "partitions": [
                                {"partitionId": 1, "role": "leader", "health": "healthy"}
                            ],
                            "version": "fake",
                        }
                    ],
                    "clusterSize": 1,
                    "gatewayVersion": "fake",
                }
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    grpc = socket.socket()
    grpc.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    grpc.bind((host, grpc_port))
    grpc.listen()

    def accept() -> None:
        while True:
            conn, _ = grpc.accept()
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    rest = ThreadingHTTPServer((host, rest_port), Handler)
    threading.Thread(target=rest.serve_forever, daemon=True).start()
    time.sleep(0.3)  # become ready a little later, like a real broker
    management = ThreadingHTTPServer((host, management_port), Handler)
    print("fake-broker ready", flush=True)
    management.serve_forever()


if __name__ == "__main__":
    main()

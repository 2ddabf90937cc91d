#!/usr/bin/env python3
"""Time from spawning `zart serve` to its first `200` on `/readyz`.

Usage: bench/readyz-after-spawn.py ZART_BINARY [STARTS] [DATABASE_URL]

Each start spawns `ZART_BINARY serve --db URL --bind 127.0.0.1:PORT`, polls
`GET /readyz` every 2 ms over a fresh TCP connection, records the time from spawn to
the first 200, then stops the server with SIGTERM and waits for it. The first start
creates the database (a SQLite file in a temporary directory unless a URL is given)
and runs its migrations; it is printed apart from the others, which open an existing
database. Prints the binary's size and one JSON line.
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def one_start(binary, url):
    port = free_port()
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [binary, "serve", "--db", url, "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not ready(port):
            if server.poll() is not None:
                sys.exit(f"zart serve exited with {server.returncode}")
            if time.perf_counter() - t0 > 10:
                sys.exit("no 200 on /readyz within 10 s")
            time.sleep(0.002)
        return (time.perf_counter() - t0) * 1000.0
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    starts = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    with tempfile.TemporaryDirectory(prefix="zart-readyz-") as tmp:
        url = sys.argv[3] if len(sys.argv) > 3 else f"sqlite://{tmp}/zart.db"
        first = one_start(binary, url)
        later = [one_start(binary, url) for _ in range(starts)]
    print(
        json.dumps(
            {
                "binary": binary,
                "size_bytes": os.path.getsize(binary),
                "first_start_ms": round(first, 1),
                "readyz_ms": [round(ms, 1) for ms in later],
                "readyz_median_ms": round(statistics.median(later), 1),
                "readyz_max_ms": round(max(later), 1),
            }
        )
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Login flood: N concurrent wrong-password log-ins against a running authd,
while /health is polled and the server's memory is sampled.

It shows that password hashing is bounded by the hashing pool: /health keeps
answering promptly and resident memory stays flat however many log-ins are
in flight; log-ins beyond the queue get 503 with Retry-After.

Start the server with the limits that would otherwise answer 429 turned off:

    AUTH__RATE_LIMIT__IP_PER_MINUTE=0 AUTH__RATE_LIMIT__ACCOUNT_MAX_FAILURES=100000 \
    AUTH__RATE_LIMIT__LOGIN_MAX_FAILURES=100000 target/release/authd &
    python3 bench/login_flood.py --pid $! --requests 200

Standard library only; talks to 127.0.0.1 only.
"""

import argparse
import http.client
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def login(port, i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = json.dumps({"email": f"flood{i}@example.com", "password": "not the password"})
    started = time.perf_counter()
    conn.request("POST", "/auth/login", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--pid", type=int, required=True, help="authd's process id")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    baseline = rss_kib(args.pid)
    peak = [baseline]
    health = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(args.pid))
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            started = time.perf_counter()
            conn.request("GET", "/health")
            conn.getresponse().read()
            conn.close()
            health.append(time.perf_counter() - started)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.requests) as pool:
        results = list(pool.map(lambda i: login(args.port, i), range(args.requests)))
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()

    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    latencies = sorted(latency for _, latency in results)
    print(f"log-ins: {args.requests} concurrent, {elapsed:.2f} s in all, statuses {statuses}")
    print(f"log-in latency: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")
    if health:
        print(f"/health during the flood: {len(health)} probes, "
              f"median {statistics.median(health) * 1000:.1f} ms, max {max(health) * 1000:.1f} ms")
    print(f"RSS: {baseline / 1024:.1f} MiB before, {peak[0] / 1024:.1f} MiB peak, "
          f"{rss_kib(args.pid) / 1024:.1f} MiB after")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Exec -> first verified 200: starts the server, waits for its ready line, POSTs one real request,
and prints the wall time from exec to the 200 (median of N starts). Goal: <= 20 ms.

Usage: first-request.py BINARY POLICY TOKEN_FILE SECRET_FILE [N]
"""
import http.client, json, os, socket, statistics, subprocess, sys, time

binary, policy, token_file, secret_file = sys.argv[1:5]
runs = int(sys.argv[5]) if len(sys.argv) > 5 else 20
token = open(token_file).read().strip()
env = {"CI_PREVIEW_ENV": "preview", "FLAGS_SECRET": open(secret_file).read().strip(), "RUST_LOG": "warn"}
body = json.dumps({"flags": {"newCheckout": True, "beta": False}})
times = []
for _ in range(runs):
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--policy", policy],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline().strip()
        host, port = line.rsplit("http://", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port))
        # http.client writes headers and body in two sends; without TCP_NODELAY Nagle holds the
        # body until the server's delayed ACK (~40 ms), which would measure the client, not us.
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.request("POST", "/api/~/ci/flags/encrypt-override", body,
                     {"content-type": "application/json", "x-github-oidc-token": token})
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            sys.exit(f"first request answered {response.status}")
        times.append(elapsed)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
print(json.dumps({"runs": runs, "median_ms": round(statistics.median(times), 2),
                  "min_ms": round(min(times), 2), "max_ms": round(max(times), 2)}))

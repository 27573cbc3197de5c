#!/usr/bin/env python3
"""Exec -> first verified 200, the server and the Vercel function side by side in one run.

Each round starts the server (its ready line, then one POST) and the function under an emulated
Vercel host (a Unix socket named by VERCEL_IPC_PATH: its `server-started` frame, then one POST
with the host's internal headers), alternating so both meet the same machine noise. Prints the
median, min and max of each and their ratio.

Usage: first-request.py SERVER FUNCTION FIXTURES_DIR [ROUNDS]   (fixtures: fixtures.mjs)
       first-request.py --functions FUNCTION_A FUNCTION_B FIXTURES_DIR [ROUNDS]
The second form compares two builds of the function (template-build.sh uses it for its configs):
exec -> first verified 200 as above, then the mean time of STEADY (50) more requests to the same
instance, each on a new connection.
"""
import http.client, json, os, socket, statistics, subprocess, sys, tempfile, time

compare = sys.argv[1] == "--functions"
args = sys.argv[2:] if compare else sys.argv[1:]
server, function, fixtures = args[:3]
rounds = int(args[3]) if len(args) > 3 else 20
STEADY = 50
FUNCTION_HEADERS = {"x-vercel-internal-invocation-id": "inv-1", "x-vercel-internal-request-id": "1"}
read = lambda name: open(os.path.join(fixtures, name)).read().strip()
token, secret = read("token.txt"), read("secret.b64u")
policy = os.path.join(fixtures, "policy.toml")
body = json.dumps({"flags": {"newCheckout": True, "beta": False}})
base_env = {"FLAGS_SECRET": secret, "RUST_LOG": "warn", "CI_PREVIEW_POLICY": policy}


def post(port, extra_headers):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    # http.client sends headers and body apart; without TCP_NODELAY Nagle would hold the body
    # until the peer's delayed ACK (~40 ms) and this would measure the client.
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"content-type": "application/json", "x-github-oidc-token": token, **extra_headers}
    conn.request("POST", "/api/~/ci/flags/encrypt-override", body, headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"first request answered {response.status}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_round():
    start = time.perf_counter()
    proc = subprocess.Popen([server, "--listen", "127.0.0.1:0"],
                            env={**base_env, "CI_PREVIEW_ENV": "preview"},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline().strip()
        port = int(line.rsplit(":", 1)[1])
        post(port, {})
        return (time.perf_counter() - start) * 1000
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def function_round(workdir, function=function, steady_times=None):
    path = os.path.join(workdir, "ipc.sock")
    if os.path.exists(path):
        os.unlink(path)
    host = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    host.bind(path)
    host.listen(1)
    port = free_port()
    env = {**base_env, "VERCEL_ENV": "preview", "VERCEL_IPC_PATH": path, "VERCEL_DEV_PORT": str(port)}
    start = time.perf_counter()
    proc = subprocess.Popen([function], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn, _ = host.accept()
        frame = b""
        while not frame.endswith(b"\0"):
            chunk = conn.recv(4096)
            if not chunk:
                sys.exit("the function closed the host socket before server-started")
            frame += chunk
        started = json.loads(frame[:-1])
        assert started["type"] == "server-started" and started["payload"]["httpPort"] == port, started
        post(port, FUNCTION_HEADERS)
        elapsed = (time.perf_counter() - start) * 1000
        if steady_times is not None:
            start = time.perf_counter()
            for _ in range(STEADY):
                post(port, FUNCTION_HEADERS)
            steady_times.append((time.perf_counter() - start) * 1000 / STEADY)
        conn.close()
        return elapsed
    finally:
        host.close()
        proc.terminate()
        proc.wait(timeout=10)


def summary(times):
    return {"median_ms": round(statistics.median(times), 2),
            "min_ms": round(min(times), 2), "max_ms": round(max(times), 2)}


def compare_functions(a, b):
    first, steady = {a: [], b: []}, {a: [], b: []}
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(rounds):
            for binary in (a, b):
                first[binary].append(function_round(workdir, binary, steady[binary]))
    fa, fb = summary(first[a]), summary(first[b])
    sa, sb = summary(steady[a]), summary(steady[b])
    print(json.dumps({"rounds": rounds, "a": a, "b": b,
                      "first_request": {"a": fa, "b": fb,
                                        "b_over_a": round(fb["median_ms"] / fa["median_ms"], 2)},
                      "per_request": {"a": sa, "b": sb,
                                      "b_over_a": round(sb["median_ms"] / sa["median_ms"], 2)}}))


if compare:
    compare_functions(server, function)
    sys.exit(0)

with tempfile.TemporaryDirectory() as workdir:
    server_times, function_times = [], []
    for _ in range(rounds):
        server_times.append(server_round())
        function_times.append(function_round(workdir))
s, f = summary(server_times), summary(function_times)
print(json.dumps({"rounds": rounds, "server": s, "function": f,
                  "function_over_server": round(f["median_ms"] / s["median_ms"], 2)}))

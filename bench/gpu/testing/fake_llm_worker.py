#!/usr/bin/env python3
"""A stand-in for llm_worker.py `serve` with no torch and no GPU (Python's standard library
only), for testing bench/gpu/cli_flow.mjs on a machine without a GPU: the same arguments,
ready file (JSON with `readySeconds`, `bytes` and `answer`), HTTP API (POST /generate,
GET /health), SIGUSR2 answer in --out, SIGUSR1/SIGTERM exit 0 and select loop over the
signal wake-up pipe. Its "weights" are --mb MiB of pseudo-random bytes drawn at warm-up
from a per-process random seed (so a cold start and a restore tell apart: the tokens
depend on them); the tokens are a greedy walk over them. Not a model.
"""
from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import random
import select
import signal
import sys
import time

T_START = time.perf_counter()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["serve"])
    ap.add_argument("--data", default="")
    ap.add_argument("--preset", default="fake")
    ap.add_argument("--ready", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", default="")
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--mb", type=int, default=int(os.environ.get("FAKE_LLM_MB", "64")))
    a, _ = ap.parse_known_args()
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    os.set_blocking(wfd, False)
    for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
        signal.signal(s, lambda *_: None)
    signal.set_wakeup_fd(wfd)

    seed = random.SystemRandom().getrandbits(64)
    weights = random.Random(seed).randbytes(a.mb << 20)
    vocab = 151936

    def generate(prompt: list[int], n: int) -> list[int]:
        h = hashlib.sha256(json.dumps(prompt).encode()).digest()
        out, x = [], int.from_bytes(h[:8], "little")
        for _ in range(n):
            i = x % (len(weights) - 8)
            x = int.from_bytes(hashlib.sha256(weights[i:i + 64] + x.to_bytes(8, "little")).digest()[:8], "little")
            out.append(x % vocab)
        return out

    r = random.Random(1234)
    single = [r.randrange(vocab) for _ in range(32)]

    def answer() -> dict:
        toks = generate(single, 32)
        return {"tokens": toks, "batchTokens": [], "prompt": single,
                "forwardSha256": hashlib.sha256(json.dumps(toks).encode()).hexdigest(),
                "logitsSha256": hashlib.sha256(bytes(str(toks), "ascii")).hexdigest(),
                "weightsSha256": hashlib.sha256(weights).hexdigest()}

    first = answer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code: int, obj) -> None:
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply(200, {"ok": True, "pid": os.getpid()}) if self.path == "/health" else self.reply(404, {})

        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.reply(200, {"tokens": generate([int(x) for x in req["prompt_ids"]], int(req.get("max_new_tokens", 16)))})

    srv = http.server.HTTPServer(("127.0.0.1", a.port), Handler)
    info = {"pid": os.getpid(), "preset": a.preset, "model": "fake", "port": a.port, "bytes": len(weights),
            "readySeconds": time.perf_counter() - T_START, "readyAt": time.time(), "answer": first}
    tmp = f"{a.ready}.tmp"
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.replace(tmp, a.ready)
    nul = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(nul, fd)
    os.close(nul)
    lfd = srv.fileno()
    while True:
        try:
            ready, _, _ = select.select([lfd, rfd], [], [])
        except InterruptedError:
            ready = []
        sigs = b""
        if rfd in ready:
            try:
                while True:
                    got = os.read(rfd, 512)
                    if not got:
                        break
                    sigs += got
            except BlockingIOError:
                pass
        for sig in sigs:
            if sig in (signal.SIGTERM, signal.SIGUSR1):
                os._exit(0)
            if sig == signal.SIGUSR2:
                tmp = f"{a.out}.tmp"
                with open(tmp, "w") as f:
                    json.dump({**answer(), "pid": os.getpid()}, f)
                os.replace(tmp, a.out)
        if lfd in ready:
            srv._handle_request_noblock()


if __name__ == "__main__":
    sys.exit(main())

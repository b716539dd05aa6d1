#!/usr/bin/env python3
"""A worker of several CUDA processes, for checkpointing and restoring a whole process
tree (issue 19's tensor-parallel case, as far as one GPU allows).

The launcher (this process, no CUDA of its own) starts --procs ranks, each a
bench/gpu/worker.py with --gib/procs GiB of weights on GPU (rank % GPUs): a CUDA
context, its weights, a captured CUDA graph. It writes its ready file once every rank
is ready, and answers SIGUSR2 by asking every rank (SIGUSR2) and writing one answer
whose hashes cover every rank's. worker.py's contract, so bench/gpu/engine-check.mjs
runs it: --weights F --gib N --ready F --out F [--log F].

The ranks do not talk to each other: a real tensor-parallel worker all-reduces over
NCCL, which needs one GPU per rank (NCCL refuses two ranks on one GPU). On the one-GPU
machine this checks what it can: that the engine locks, checkpoints, restores and
unlocks every CUDA process of the tree, and that each comes back with its own GPU
memory intact. The launcher keeps no file open while it serves (stdio /dev/null), as
CRIU needs.
"""
import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def write_json_atomic(path, obj):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def wait_file(path, procs, what, timeout=600.0):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        for p in procs:
            if p.poll() is not None:
                raise SystemExit(f"tp_worker: rank pid {p.pid} exited ({p.returncode}) while waiting for {what}")
        if time.monotonic() > end:
            raise SystemExit(f"tp_worker: no {what} in {timeout:.0f} s")
        time.sleep(0.01)


def gpu_count():
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
        return max(1, sum(1 for line in out.splitlines() if line.startswith("GPU ")))
    except (OSError, subprocess.SubprocessError):
        return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--gib", type=float, required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", default="")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--rank-worker", default=os.path.join(HERE, "worker.py"), help="the script each rank runs (worker.py's contract)")
    a = ap.parse_args()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGTERM})

    gpus = gpu_count()
    t0 = time.perf_counter()
    ranks = []
    for k in range(a.procs):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=str(k % gpus))
        args = [sys.executable, a.rank_worker, "--weights", a.weights, "--gib", str(a.gib / a.procs),
                "--ready", f"{a.ready}.rank{k}", "--out", f"{a.out}.rank{k}"] + (["--log", a.log] if a.log else [])
        ranks.append(subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    readies = []
    for k, p in enumerate(ranks):
        wait_file(f"{a.ready}.rank{k}", ranks, f"ready file of rank {k}")
        with open(f"{a.ready}.rank{k}") as f:
            readies.append(json.load(f))

    def combine(answers):
        return {
            "forwardSha256": hashlib.sha256("".join(x["forwardSha256"] for x in answers).encode()).hexdigest(),
            "weightsSha256": hashlib.sha256("".join(x["weightsSha256"] for x in answers).encode()).hexdigest(),
            "ranks": answers,
        }

    write_json_atomic(a.ready, {
        "pid": os.getpid(), "procs": a.procs, "gpus": gpus, "gib": a.gib, "rankPids": [p.pid for p in ranks],
        "readySeconds": time.perf_counter() - t0, "answer": combine([r["answer"] for r in readies]),
    })
    nul = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(nul, fd)
    os.close(nul)

    while True:
        sig = signal.sigwait({signal.SIGUSR2, signal.SIGTERM})
        if sig == signal.SIGTERM:
            for p in ranks:
                p.terminate()
            os._exit(0)
        outs = [f"{a.out}.rank{k}" for k in range(a.procs)]
        for o in outs:
            if os.path.exists(o):
                os.unlink(o)
        for p in ranks:
            os.kill(p.pid, signal.SIGUSR2)
        answers = []
        for k, o in enumerate(outs):
            wait_file(o, ranks, f"answer of rank {k}", 120.0)
            with open(o) as f:
                answers.append(json.load(f))
        write_json_atomic(a.out, combine(answers) | {"pid": os.getpid(), "at": time.time()})


if __name__ == "__main__":
    main()

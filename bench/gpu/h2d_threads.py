#!/usr/bin/env python3
"""Host-to-device copies from pageable memory by 1, 2, 4 and 8 threads at once (each its
own stream and slice), with THP as found and `always`, against one pinned copy: what a
CUDA restore that copied with several threads, or through pinned staging, could reach.
The driver's own restore runs on one thread (see docs/gpu-benchmark.md).

    python3 bench/gpu/h2d_threads.py [--gib 8] [--out FILE]      (GPU machine, as root for THP)
"""
from __future__ import annotations

import argparse
import json
import threading
import time

THP = "/sys/kernel/mm/transparent_hugepage/enabled"


def thp_get() -> str:
    try:
        return open(THP).read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return "unknown"


def thp_set(mode: str) -> bool:
    try:
        with open(THP, "w") as f:
            f.write(mode)
        return True
    except OSError:
        return False


def measure(torch, n: int, threads_list: list[int], reps: int) -> dict:
    h = torch.empty(n, dtype=torch.uint8)
    h.fill_(1)  # every page touched (THP decides its size now)
    d = torch.empty(n, dtype=torch.uint8, device="cuda")
    out = {}
    for threads in threads_list:
        chunk = n // threads
        streams = [torch.cuda.Stream() for _ in range(threads)]

        def work(i: int) -> None:
            with torch.cuda.stream(streams[i]):
                d[i * chunk:(i + 1) * chunk].copy_(h[i * chunk:(i + 1) * chunk])
            streams[i].synchronize()

        best = 0.0
        for _ in range(reps):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            torch.cuda.synchronize()
            best = max(best, chunk * threads / (time.perf_counter() - t0) / 1e9)
        out[str(threads)] = round(best, 2)
    del h, d
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    import torch
    n = int(a.gib * (1 << 30))
    found = thp_get()
    res: dict = {"gib": a.gib, "thpFound": found, "gpu": torch.cuda.get_device_name(0), "pageableGBps": {}}
    try:
        for mode in dict.fromkeys([found, "always"]):
            if mode != found and not thp_set(mode):
                res["pageableGBps"][mode] = "could not set THP"
                continue
            res["pageableGBps"][mode] = measure(torch, n, [1, 2, 4, 8], a.reps)
            print(f"THP {mode}: pageable host-to-device GB/s by threads {res['pageableGBps'][mode]}", flush=True)
    finally:
        if thp_get() != found and found != "unknown":
            thp_set(found)
    m = min(n, 2 << 30)
    p = torch.empty(m, dtype=torch.uint8, pin_memory=True)
    d = torch.empty(m, dtype=torch.uint8, device="cuda")
    best = 0.0
    for _ in range(a.reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        d.copy_(p, non_blocking=True)
        torch.cuda.synchronize()
        best = max(best, m / (time.perf_counter() - t0) / 1e9)
    res["pinnedGBps"] = round(best, 2)
    print(json.dumps(res), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""GPU sample worker for snapshotctl's benchmark: the real cold-start steps of an
inference worker, none padded with sleeps.

  1. imports (torch)                         -> importSeconds
  2. CUDA context                            -> contextSeconds
  3. N GiB of bf16 "weights" read from a local file into GPU memory (a reader thread
     fills host buffers while the main thread copies the previous one to the GPU)
                                             -> loadSeconds
  4. warm-up: cuBLAS handles, one eager forward pass, then CUDA-graph capture of the
     whole forward pass (all layers)         -> warmupSeconds
  5. writes the ready file (JSON, atomic rename) and serves.

Serving: on SIGUSR2 it replays the captured graph on a fixed input and writes
`<out>` (JSON, atomic rename) with a SHA-256 of the output activations and a
per-layer checksum of the GPU-resident weights. Both depend on every byte of the
weights in GPU memory, so a restored worker answers the same only if its GPU memory
came back intact. SIGTERM ends it.

The worker keeps no file open while it serves (stdio should be /dev/null; its log
is opened, appended and closed per line), so CRIU can restore it any number of times
from one image.

  worker.py --weights FILE --gib N --ready FILE --out FILE [--log FILE] [--dim 8192]
"""
import argparse
import os
import signal
import sys
import threading
import time

T_START = time.perf_counter()
WALL_START = time.time()


def log(path, msg):
    if path:
        with open(path, "a") as f:
            f.write(f"{time.time():.3f} [{os.getpid()}] {msg}\n")


def write_json_atomic(path, obj):
    import json
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--gib", type=float, required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", default="")
    ap.add_argument("--dim", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--chunk-mib", type=int, default=256)
    a = ap.parse_args()

    # Block SIGUSR2 before anything starts threads, so only sigwait sees it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})

    t0 = time.perf_counter()
    import torch  # noqa: E402  (timed: the framework import is part of cold start)
    t_import = time.perf_counter() - t0

    t0 = time.perf_counter()
    torch.cuda.init()
    dev = torch.device("cuda", 0)
    torch.zeros(1, device=dev)
    torch.cuda.synchronize()
    t_ctx = time.perf_counter() - t0

    # --- weights: N GiB from the file into one GPU buffer ---
    nbytes = int(a.gib * 2**30)
    layer_bytes = a.dim * a.dim * 2
    n_layers = nbytes // layer_bytes
    assert n_layers >= 1, "weights too small for one layer"
    nbytes = n_layers * layer_bytes
    size = os.path.getsize(a.weights)
    assert size >= nbytes, f"{a.weights} holds {size} bytes, need {nbytes}"

    t0 = time.perf_counter()
    gpu = torch.empty(nbytes, dtype=torch.uint8, device=dev)
    chunk = a.chunk_mib << 20
    bufs = [bytearray(chunk), bytearray(chunk)]
    ready_q = [threading.Semaphore(0), threading.Semaphore(0)]  # filled
    free_q = [threading.Semaphore(1), threading.Semaphore(1)]  # free to fill
    lens = [0, 0]
    err = []

    def reader():
        try:
            with open(a.weights, "rb", buffering=0) as f:
                off, k = 0, 0
                while off < nbytes:
                    free_q[k].acquire()
                    want = min(chunk, nbytes - off)
                    mv = memoryview(bufs[k])[:want]
                    got = 0
                    while got < want:
                        n = f.readinto(mv[got:])
                        if not n:
                            raise IOError("short read")
                        got += n
                    lens[k] = want
                    off += want
                    ready_q[k].release()
                    k ^= 1
        except BaseException as e:  # noqa: BLE001
            err.append(e)
            for s in ready_q:
                s.release()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    off, k = 0, 0
    while off < nbytes:
        ready_q[k].acquire()
        if err:
            raise err[0]
        n = lens[k]
        host = torch.frombuffer(bufs[k], dtype=torch.uint8, count=n)
        gpu[off:off + n].copy_(host)  # pageable: synchronous with respect to the buffer
        off += n
        free_q[k].release()
        k ^= 1
    th.join()
    torch.cuda.synchronize()
    del bufs, host
    t_load = time.perf_counter() - t0

    # --- warm-up: eager pass, then graph capture of the whole forward pass ---
    t0 = time.perf_counter()
    W = gpu.view(torch.bfloat16).view(n_layers, a.dim, a.dim)
    gen = torch.Generator(device=dev)
    gen.manual_seed(1234)
    x_static = torch.randn(a.batch, a.dim, device=dev, dtype=torch.bfloat16, generator=gen)
    scale = 1.0 / (a.dim ** 0.5)

    def forward(x):
        for i in range(n_layers):
            x = torch.tanh((x @ W[i]) * (scale * 2))
        return x

    forward(x_static)
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            forward(x_static)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        y_static = forward(x_static)
    g.replay()
    torch.cuda.synchronize()
    t_warm = time.perf_counter() - t0

    def answer():
        import hashlib
        g.replay()
        torch.cuda.synchronize()
        y = y_static.float().cpu().numpy().tobytes()
        # per-layer float64 sums of the weights: every byte of GPU memory counts
        sums = torch.stack([W[i].sum(dtype=torch.float32) for i in range(n_layers)]).cpu().tolist()
        wsum = hashlib.sha256(repr(sums).encode()).hexdigest()
        return {"forwardSha256": hashlib.sha256(y).hexdigest(), "weightsSha256": wsum, "layers": n_layers}

    first = answer()
    write_json_atomic(a.ready, {
        "pid": os.getpid(), "gib": a.gib, "layers": n_layers, "bytes": nbytes,
        "importSeconds": t_import, "contextSeconds": t_ctx, "loadSeconds": t_load, "warmupSeconds": t_warm,
        "readySeconds": time.perf_counter() - T_START, "startedAt": WALL_START, "readyAt": time.time(),
        "answer": first,
    })
    # Serve with no file open but /dev/null: CRIU then restores this process any number
    # of times from one image (it checks the size of every open regular file).
    nul = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(nul, fd)
    os.close(nul)
    log(a.log, f"ready: {n_layers} layers, {nbytes} bytes, load {t_load:.2f}s warm-up {t_warm:.2f}s")

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    seq = 0
    while True:
        sig = signal.sigwait({signal.SIGUSR2, signal.SIGTERM})
        if sig == signal.SIGTERM:
            log(a.log, "SIGTERM: exiting")
            os._exit(0)
        seq += 1
        t0 = time.perf_counter()
        ans = answer()
        ans.update({"pid": os.getpid(), "seq": seq, "seconds": time.perf_counter() - t0, "at": time.time()})
        write_json_atomic(a.out, ans)


if __name__ == "__main__":
    try:
        main()
    except BaseException as e:  # noqa: BLE001
        sys.stderr.write(f"worker failed: {e!r}\n")
        raise

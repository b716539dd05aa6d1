#!/usr/bin/env python3
"""Cold start vs checkpoint/restore of a real LLM worker (bench/gpu/llm_worker.py:
Qwen3-8B's architecture and size through transformers), driven by bench.py's machinery
(the CUDA checkpoint driver API through src/agent/cuda/cuda_ckpt.py, CRIU from
.criu-carry/ and the patched one from .criu-carry-parallel/). Run as root on the GPU
machine, from the repository root:

    python3 bench/gpu/llm_bench.py --out "$OUT" [--presets qwen3-8b-2l,qwen3-8b] [--budget 540]

For each preset (the first is a smoke pass: Qwen3-8B's widths, 2 layers):
  weights: written once from a fixed seed (`llm_worker.py gen`; not part of cold start)
  floors (largest preset): storage read, page-cache read (1 and 8 readers), anonymous
    first touch, host-to-device pinned and pageable (bench.py's Bench.bandwidths)
  cold start, page cache dropped, then warm (spawn -> ready file); the fixed prompts'
    greedy tokens through SIGUSR2 and through HTTP
  `llm_worker.py check` (our decode against transformers' forward), where time allows
  checkpoint: CUDA lock + checkpoint, `criu dump` (image size)
  restores, warm page cache: Debian's CRIU (`stock`) and the patched one (`parallel`),
    THP as found and `always`, each followed by the fixed prompts, whose tokens (and
    the weights' checksums) must equal the checkpointed worker's
Writes results.json (rows: one per preset and restore path), table.txt, bench.log and
criu-logs.tar.gz under --out. Every step is skipped when --budget would not hold it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench as B  # noqa: E402

GiB = 2**30
WORKER = HERE / "llm_worker.py"
MODEL = {"qwen3-8b": "Qwen3-8B", "qwen3-8b-2l": "Qwen3-8B widths, 2 layers (smoke)", "tiny": "tiny (CPU test)"}


class Clock:
    def __init__(self, budget: float):
        self.t0 = time.time()
        self.budget = budget

    def left(self) -> float:
        return self.budget - (time.time() - self.t0)

    def fits(self, need: float, what: str) -> bool:
        if self.left() >= need:
            return True
        B.log(f"  SKIPPED {what}: needs ~{need:.0f} s, {self.left():.0f} s of the budget left")
        return False


class LlmBench(B.Bench):
    def __init__(self, a: argparse.Namespace):
        self.gpu_ok = True
        try:
            super().__init__(a)
        except Exception as e:  # noqa: BLE001  (no driver API / NVML: cold start only)
            B.log(f"driver API / NVML unavailable, checkpoint will not run: {e!r}")
            self.gpu_ok = False
            self.a = a
            self.data = Path(a.data)
            self.data.mkdir(parents=True, exist_ok=True)
            self.criu, self.criu_parallel = [str(B.REPO / ".criu-carry/criu")], None
            self.extra_dump = []
            self.logs_dir = self.data / "criu-logs"
            shutil.rmtree(self.logs_dir, ignore_errors=True)
            self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.preset = ""
        self.port = a.port
        self.worker_extra = a.worker_args.split() + (["--compile"] if a.compile else [])
        self.last_answer: dict = {}

    # ---------- the worker ----------
    def gen(self, preset: str) -> float:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, str(WORKER), "gen", "--data", str(self.data), "--preset", preset],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"gen {preset}: {r.stdout[-1500:]}{r.stderr[-3000:]}")
        B.log(f"  weights ({preset}): {r.stdout.strip().splitlines()[-1]} in {time.perf_counter() - t0:.1f} s")
        os.sync()
        return time.perf_counter() - t0

    def shards(self, preset: str) -> list[Path]:
        return sorted((self.data / preset).glob("*.safetensors"))

    def spawn(self, tag: str, timeout: float = 400, extra: list[str] | None = None) -> tuple[int, dict, float]:  # type: ignore[override]
        ready = self.data / f"ready-{tag}.json"
        ready.unlink(missing_ok=True)
        errp = self.data / f"worker-{tag}.err"
        err = open(errp, "w")
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, str(WORKER), "serve", "--data", str(self.data), "--preset", self.preset,
                              "--ready", str(ready), "--out", str(self.data / "answer.json"), "--log",
                              str(self.data / "worker.log"), "--port", str(self.port)] + self.worker_extra + (extra or []),
                             stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True, cwd=self.data)
        err.close()
        while not ready.exists():
            if p.poll() is not None:
                raise RuntimeError(f"worker exited {p.returncode}: {errp.read_text()[-3000:]}")
            if time.perf_counter() - t0 > timeout:
                B.reap(p.pid)
                raise RuntimeError(f"worker not ready in {timeout} s: {errp.read_text()[-3000:]}")
            time.sleep(0.005)
        dt = time.perf_counter() - t0
        return p.pid, json.loads(ready.read_text()), dt

    def http_generate(self, prompt: list[int], n: int, timeout: float = 120) -> list[int]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/generate", method="POST",
                                     data=json.dumps({"prompt_ids": prompt, "max_new_tokens": n}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())["tokens"]

    def ask(self, pid: int, timeout: float = 120) -> dict:
        """SIGUSR2 (the fixed prompts, as bench.py asks its worker), then the single prompt over HTTP.
        forwardSha256 covers both, so bench.py's restore() compares both with the reference."""
        ans = super().ask(pid, timeout)
        t0 = time.perf_counter()
        http = self.http_generate(ans["prompt"], len(ans["tokens"]), timeout)
        ans["httpSeconds"] = time.perf_counter() - t0
        ans["httpTokens"] = http
        ans["httpEqual"] = http == ans["tokens"]
        ans["forwardSha256"] = ans["forwardSha256"] + ":" + hashlib.sha256(json.dumps(http).encode()).hexdigest()[:16]
        self.last_answer = ans
        return ans

    def reap_restored(self) -> None:
        """After a failed restore step: end the worker CRIU restored, if any (it holds the port and GPU memory)."""
        pidfile = self.data / "restore-work" / "pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        if B.alive(pid):
            B.log(f"  ending restored worker {pid}")
            try:
                B.reap(pid)
            except Exception as e:  # noqa: BLE001
                B.log(f"  could not end {pid}: {e}")

    def floors(self) -> dict:
        """bench.py's bandwidths(); where a part of it cannot run (no THP or drop_caches, as
        on gVisor), the page-cache read and host-to-device parts alone."""
        try:
            bw = self.bandwidths()
        except Exception as e:  # noqa: BLE001
            B.log(f"  bench.py's bandwidths() FAILED ({e!r}); page cache and host-to-device only")
            bw = {"bandwidthsError": repr(e)[-500:]}
            n = min(self.weights.stat().st_size, 4 * GiB)
            B.read_files_range(self.weights, n)
            bw["pageCacheReadGBps"] = n / B.read_files_range(self.weights, n) / 1e9  # 8 readers here
            code = ("import torch, json\nn = 2 << 30\nd = torch.empty(n, dtype=torch.uint8, device='cuda')\nres = {}\n"
                    "for name, pin in (('pinned', True), ('pageable', False)):\n"
                    "    h = torch.ones(n, dtype=torch.uint8, pin_memory=pin)\n    ts = []\n    for _ in range(4):\n"
                    "        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)\n"
                    "        s.record(); d.copy_(h, non_blocking=pin); e.record(); e.synchronize()\n"
                    "        ts.append(s.elapsed_time(e) / 1000)\n    res[name] = n / sorted(ts)[len(ts) // 2] / 1e9\n"
                    "print(json.dumps(res))\n")
            try:
                r = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
                bw["h2dPinnedGBps"], bw["h2dPageableGBps"] = r["pinned"], r["pageable"]
            except Exception as e2:  # noqa: BLE001
                bw["h2dError"] = repr(e2)[-500:]
            B.log(f"  bandwidths: {json.dumps(bw)}")
        n = min(self.weights.stat().st_size, 4 * GiB)
        B.read_files_range(self.weights, n)  # cached now
        bw["pageCacheReadParallelGBps"] = n / B.read_files_range(self.weights, n) / 1e9
        B.log(f"  page cache, 8 readers: {bw['pageCacheReadParallelGBps']:.2f} GB/s")
        return bw

    def check(self, preset: str, timeout: float) -> dict:
        t0 = time.perf_counter()
        try:
            r = subprocess.run([sys.executable, str(WORKER), "check", "--data", str(self.data), "--preset", preset,
                                "--max-batch", "4", "--max-seq", "512", "--graph-batches", "1,4", "--answer-tokens", "16"] + self.worker_extra,
                               capture_output=True, text=True, timeout=timeout)
            out = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {"error": r.stderr[-2000:]}
            if r.returncode not in (0, 1):
                out["error"] = r.stderr[-2000:]
        except Exception as e:  # noqa: BLE001
            out = {"error": repr(e)[-2000:]}
        out["seconds"] = time.perf_counter() - t0
        B.log(f"  check vs transformers' forward: " + json.dumps({k: out.get(k) for k in (
            "ok", "prefillMaxAbsDiff", "logitsAbsMax", "prefillArgmaxAgree", "tokensAgreeingPrefix", "tokens",
            "minTop2Margin", "hfTop2MarginWhereTheyPart", "partAtNearTie", "batchEqualsSingle", "error")}))
        return out


def parts(info: dict) -> dict:
    keys = ("torchImportSeconds", "importSeconds", "contextSeconds", "buildSeconds", "loadSeconds", "kvSeconds",
            "compileSeconds", "compileWorkers", "compiledGraphs", "compileShutdownSeconds", "signalsBeforeReady", "compileCacheWasEmpty", "mappedCompileCache", "children",
            "warmupSeconds", "readySeconds", "weightBytes", "kvCacheBytes", "shards", "graphBatches", "threads",
            "openFiles", "mappedShards", "gpuAllocatedBytes", "gpuReservedBytes", "versions")
    return {k: info.get(k) for k in keys}


def run_preset(b: LlmBench, preset: str, clock: Clock, bw: dict, criu_ok: bool, do_check: bool, full: bool) -> dict:
    b.preset = preset
    res: dict = {"preset": preset, "model": MODEL.get(preset, preset), "rows": []}
    B.log(f"== {preset} ==")
    res["genSeconds"] = b.gen(preset)
    shards = b.shards(preset)
    res["weightFiles"] = [p.name for p in shards]
    wbytes = sum(p.stat().st_size for p in shards)
    res["weightFileBytes"] = wbytes
    b.weights = shards[0]

    if full and clock.fits(40, "floors"):
        try:
            bw.update(b.floors())
        except Exception as e:  # noqa: BLE001
            B.log(f"  floors FAILED: {e!r}")
            bw["error"] = repr(e)[-1000:]

    # ----- cold starts -----
    dropped = True
    try:
        B.drop_caches()
    except OSError as e:
        dropped = False
        B.log(f"  drop_caches unavailable ({e!r}): the first cold start has a warm cache too")
    pid, info, dt = b.spawn(f"{preset}-cold")
    res["coldColdCacheSeconds"] = dt if dropped else None
    res["coldColdCacheParts"] = parts(info)
    first = b.ask(pid)
    B.reap(pid)
    B.log(f"  cold start (page cache {'dropped' if dropped else 'NOT dropped'}): {dt:.2f} s " + json.dumps(
        {k: round(v, 2) for k, v in parts(info).items() if k.endswith("Seconds") and isinstance(v, float)}))
    pid, info, dt = b.spawn(f"{preset}-warm")
    res["coldSeconds"] = dt
    res["coldParts"] = parts(info)
    ref = b.ask(pid)
    res["coldOutputEqual"] = ref["forwardSha256"] == first["forwardSha256"] and ref["weightsSha256"] == first["weightsSha256"]
    res["firstColdAnswer"] = {k: first.get(k) for k in ("tokens", "forwardSha256", "logitsSha256", "weightsSha256")}
    res["answer"] = {k: ref.get(k) for k in ("prompt", "tokens", "batchTokens", "httpTokens", "httpEqual", "forwardSha256",
                                            "logitsSha256", "weightsSha256", "generateSeconds", "httpSeconds")}
    B.log(f"  cold start (warm page cache): {dt:.2f} s " + json.dumps(
        {k: round(v, 2) for k, v in parts(info).items() if k.endswith("Seconds") and isinstance(v, float)}))
    B.log(f"  worker: {info.get('threads')} threads, open files {info.get('openFiles')}, mapped shards {info.get('mappedShards')}, "
          f"GPU allocated {info.get('gpuAllocatedBytes', 0) / GiB:.2f} GiB, reserved {info.get('gpuReservedBytes', 0) / GiB:.2f} GiB")
    B.log(f"  answer: tokens {ref['tokens']} (HTTP equal: {ref['httpEqual']}), two cold starts equal: {res['coldOutputEqual']}")

    if do_check and not full and clock.fits(60, "check"):
        res["check"] = b.check(preset, timeout=min(150, clock.left() - 10))

    if not criu_ok:
        B.reap(pid)
        res["checkpoint"] = "not run: " + b.no_criu_reason
        B.log(f"  checkpoint not run: {b.no_criu_reason}")
        return res

    # ----- checkpoint -----
    gpu_gib = (info.get("gpuReservedBytes") or wbytes) / GiB
    if not clock.fits(25 + 2.5 * gpu_gib, "checkpoint"):
        B.reap(pid)
        return res
    images = b.data / f"images-{preset}"
    try:
        ck = b.dump(pid, images)
    except Exception as e:  # noqa: BLE001
        B.log(f"  checkpoint FAILED: {e}")
        res["checkpointError"] = str(e)[-3000:]
        B.reap(pid)
        return res
    finally:
        if (images / "dump.log").exists():
            shutil.copy(images / "dump.log", b.logs_dir / f"dump-{preset}.log")
    res["checkpoint"] = ck
    B.log(f"  checkpoint: {ck['checkpointSeconds']:.2f} s (cuda lock {ck['cudaLockSeconds']:.2f} + checkpoint {ck['cudaCheckpointSeconds']:.2f}, "
          f"criu dump {ck['criuDumpSeconds']:.2f}), {ck['checkpointBytes'] / GiB:.2f} GiB of images, GPU used {ck['gpuUsedBytes'] / GiB:.2f} GiB, sync {ck['syncSeconds']:.2f} s")
    need = ck["gpuUsedBytes"] + (256 << 20)
    img_gib = ck["checkpointBytes"] / GiB

    # ----- restores (warm page cache) -----
    found = b.found_thp
    other = "always" if found != "always" else "madvise"
    # most wanted first (the budget skips from the end): stock, the patched CRIU + THP, then the rest
    # (name, THP, patched CRIU, engine order, page cache warm, estimated seconds)
    every = {"stock": ("stock", found, False, False, True, 12 + 1.0 * img_gib),
             "thp+parallel": (f"thp-{other}+parallel", other, True, False, True, 12 + 0.3 * img_gib),
             "parallel": ("parallel", found, True, False, True, 12 + 0.4 * img_gib),
             "thp": (f"thp-{other}", other, False, False, True, 12 + 0.7 * img_gib),
             "thp+parallel+engine-order": (f"thp-{other}+parallel+engine-order", other, True, True, True, 12 + 0.3 * img_gib),
             "thp+parallel-cold": (f"thp-{other}+parallel-cold", other, True, False, False, 15 + 0.6 * img_gib)}
    names = b.a.restores.split(",") if b.a.restores else (list(every)[:5] if full else ["stock", "thp+parallel"])
    unknown = [n for n in names if n not in every]
    if unknown:
        raise ValueError(f"--restores: unknown {unknown}; known: {','.join(every)}")
    plan = [every[n] for n in names]
    for name, thp, parallel, engine_order, warm, est in plan:
        if parallel and not b.criu_parallel:
            B.log(f"  {name}: no patched CRIU (.criu-carry-parallel/criu missing)")
            continue
        if not clock.fits(est, f"restore {name}"):
            continue
        B.thp_set(thp)
        if warm:
            b.warm(images)
        else:
            B.drop_caches()
        try:
            r = b.restore(images, need, ref, f"{name}-{preset}", keep_log=True, engine_order=engine_order,
                          criu=b.criu_parallel if parallel else None)
            la = b.last_answer
            r.update({"thp": thp, "criu": "parallel" if parallel else "stock", "pageCache": "warm" if warm else "dropped",
                      "logitsEqual": la.get("logitsSha256") == ref.get("logitsSha256"), "httpEqual": la.get("httpEqual"),
                      "tokens": la.get("tokens")})
        except Exception as e:  # noqa: BLE001
            B.log(f"  restore {name} FAILED: {e}")
            b.reap_restored()
            r = {"variant": name, "thp": thp, "criu": "parallel" if parallel else "stock", "error": str(e)[-2000:], "outputEqual": False}
        r["variant"] = name
        res.setdefault("restores", []).append(r)
        (b.out / "results.json").write_text(json.dumps(b.results, indent=1))
    B.thp_set(found)
    shutil.rmtree(images, ignore_errors=True)

    # ----- --compile: a cold start that finds the checkpointed worker's compile cache -----
    cache = info.get("compileCache")
    if cache and clock.fits(res["coldSeconds"] + 10, "cold start with a warm compile cache"):
        pid, info2, dt = b.spawn(f"{preset}-warm-compile-cache", extra=["--compile-cache", cache])
        again = b.ask(pid)
        B.reap(pid)
        res["coldWarmCompileCacheSeconds"] = dt
        res["coldWarmCompileCacheParts"] = parts(info2)
        res["coldWarmCompileCacheOutputEqual"] = again["forwardSha256"] == ref["forwardSha256"]
        B.log(f"  cold start, page cache and compile cache warm: {dt:.2f} s " + json.dumps(
            {k: round(v, 2) for k, v in parts(info2).items() if k.endswith("Seconds") and isinstance(v, float)})
            + f"; answered as the checkpointed worker: {res['coldWarmCompileCacheOutputEqual']}")
    shutil.rmtree(b.data / "compile-cache", ignore_errors=True)

    # ----- rows: one per restore path -----
    for r in res.get("restores", []):
        row = {"model": res["model"], "preset": preset, "worker": "bench/gpu/llm_worker.py", "path": "engine",
               "criu": r["criu"], "variant": r["variant"], "thp": r["thp"], "gib": wbytes / GiB,
               "coldSeconds": res["coldSeconds"], "coldColdCacheSeconds": res["coldColdCacheSeconds"],
               "coldWarmCompileCacheSeconds": res.get("coldWarmCompileCacheSeconds"), "compile": bool(info.get("compileCache")),
               "compileSeconds": info.get("compileSeconds"), "pageCache": r.get("pageCache", "warm"), "cudaRestoreCpu": r.get("cudaRestoreCpu"),
               "checkpointSeconds": ck["checkpointSeconds"], "cudaCheckpointSeconds": ck["cudaLockSeconds"] + ck["cudaCheckpointSeconds"],
               "criuDumpSeconds": ck["criuDumpSeconds"], "imageGiB": img_gib, "gpuUsedGiB": ck["gpuUsedBytes"] / GiB,
               "restoreSeconds": r.get("restoreSeconds"), "criuRestoreSeconds": r.get("criuRestoreSeconds"),
               "cudaRestoreSeconds": r.get("cudaRestoreSeconds"), "cudaUnlockSeconds": r.get("cudaUnlockSeconds"),
               "firstAnswerSeconds": r.get("firstAnswerSeconds"), "readThreads": r.get("readThreads"), "thpCoverage": r.get("thpCoverage"),
               # the restored worker's tokens (SIGUSR2 and HTTP) and weight sums vs the worker that was checkpointed
               "outputEqual": bool(r.get("outputEqual")), "logitsEqual": r.get("logitsEqual"), "coldStartsEqual": res["coldOutputEqual"],
               "httpEqual": r.get("httpEqual"), "error": r.get("error")}
        row.update(floor(bw, ck, wbytes))
        res["rows"].append(row)
    return res


def floor(bw: dict, ck: dict, wbytes: int) -> dict:
    """The machine's floors for this worker, from the bandwidths measured in the same run.
    floorSeconds (a warm restore): the images read once from the page cache at the best
    measured rate (8 readers) + the checkpointed GPU memory copied to the device at pinned speed."""
    pc = bw.get("pageCacheReadParallelGBps") or bw.get("pageCacheReadGBps")
    pin, pag, sto = bw.get("h2dPinnedGBps"), bw.get("h2dPageableGBps"), bw.get("storageReadParallelGBps") or bw.get("storageReadGBps")
    if not (pc and pin):
        return {"floorSeconds": None, "floorParts": {}}
    img = ck["checkpointBytes"] / (pc * 1e9)
    gpu = ck["gpuUsedBytes"] / (pin * 1e9)
    parts_ = {"imagesFromPageCacheSeconds": img, "gpuMemoryH2dPinnedSeconds": gpu,
              "gpuMemoryH2dPageableSeconds": ck["gpuUsedBytes"] / (pag * 1e9) if pag else None,
              "imagesFromStorageSeconds": ck["checkpointBytes"] / (sto * 1e9) if sto else None,
              "coldWeightsFromPageCachePinnedSeconds": wbytes / (pc * 1e9) + wbytes / (pin * 1e9),
              "coldWeightsFromStorageSeconds": wbytes / (sto * 1e9) if sto else None}
    return {"floorSeconds": img + gpu, "floorParts": parts_}


def table(results: dict) -> str:
    f = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
    lines = ["| model | path | criu | THP | weights GiB | cold start, cache dropped (s) | cold start, warm (s) | checkpoint (s): CUDA + CRIU | image GiB | restore, warm (s): CRIU + CUDA | floor (s) | output equal (logits too) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    notes = []
    for p in results["presets"]:
        if "error" in p and not p.get("rows"):
            lines.append(f"| {p.get('model', p['preset'])} | error: {str(p['error'])[:150]} |")
        if not p.get("rows") and "coldSeconds" in p:
            lines.append(f"| {p['model']} | cold only | | | {p['weightFileBytes'] / GiB:.2f} | {f(p.get('coldColdCacheSeconds'))} | {f(p['coldSeconds'])} "
                         f"| {p.get('checkpoint') if isinstance(p.get('checkpoint'), str) else 'failed' if 'checkpointError' in p else 'n/a'} | | | | two cold starts: {'yes' if p.get('coldOutputEqual') else 'NO'} |")
        for r in p.get("rows", []):
            if r.get("error"):
                lines.append(f"| {r['model']} | {r['path']} | {r['criu']} | {r['thp']} | {r['gib']:.2f} | | | | | FAILED: {r['error'][:120]} | | NO |")
                continue
            lines.append(f"| {r['model']} | {r['path']} ({r['variant']}) | {r['criu']} | {r['thp']} | {r['gib']:.2f} | {f(r['coldColdCacheSeconds'])} | {f(r['coldSeconds'])} "
                         f"| {f(r['checkpointSeconds'])}: {f(r['cudaCheckpointSeconds'])} + {f(r['criuDumpSeconds'])} | {r['imageGiB']:.2f} "
                         f"| {f(r['restoreSeconds'])}: {f(r['criuRestoreSeconds'])} + {f(r['cudaRestoreSeconds'])} | {f(r['floorSeconds'])} "
                         f"| {'yes' if r['outputEqual'] else 'NO'} ({'yes' if r.get('logitsEqual') else 'no'}) |")
        if "coldWarmCompileCacheSeconds" in p:
            notes.append(f"{p['preset']}: cold start with the page cache and the checkpointed worker's compile cache warm: "
                         f"{p['coldWarmCompileCacheSeconds']:.2f} s (each cold start above began with an empty compile cache; "
                         f"compile {p.get('coldParts', {}).get('compileSeconds') or 0:.2f} s of {p['coldSeconds']:.2f} s there)")
        if "coldSeconds" in p:
            notes.append(f"{p['preset']}: the two cold starts (cache dropped, warm) answered the same: {p.get('coldOutputEqual')}; "
                         f"tokens {p.get('answer', {}).get('tokens')}")
        if "check" in p:
            c = p["check"]
            notes.append(f"{p['preset']}: decode vs transformers' forward: ok={c.get('ok')}, prefill max |diff| {c.get('prefillMaxAbsDiff')} "
                         f"(logits up to {c.get('logitsAbsMax')}), greedy tokens agreeing {c.get('tokensAgreeingPrefix')}/{c.get('tokens')}"
                         f"{' (parting at a near-tie: HF top-2 margin ' + str(c.get('hfTop2MarginWhereTheyPart')) + ')' if c.get('partAtNearTie') else ''}, "
                         f"batched = single: {c.get('batchEqualsSingle')}{', error: ' + str(c.get('error'))[:200] if c.get('error') else ''}")
    bw = results.get("bandwidths", {})
    lines += ["", "Floors (GB/s): " + ", ".join(f"{k} {v:.2f}" for k, v in bw.items() if isinstance(v, float))]
    return "\n".join(lines + [""] + notes)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="qwen3-8b-2l,qwen3-8b", help="the last one is the full run (floors, all restore variants)")
    ap.add_argument("--out", default=os.environ.get("OUT", "bench-out"))
    ap.add_argument("--data", default="/var/tmp/snapbench-llm")
    ap.add_argument("--criu-root", default="")
    ap.add_argument("--parallel-root", default="")
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--budget", type=float, default=540, help="seconds; steps that would not fit are skipped")
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--worker-args", default="", help=argparse.SUPPRESS)  # e.g. "--cpu --max-seq 512" for tests
    ap.add_argument("--compile", action="store_true", help="the worker torch.compiles its decode step (each cold start with an empty compile cache)")
    ap.add_argument("--restores", default="", help="restore variants of the last preset, comma-separated (default: stock,thp+parallel,parallel,thp,thp+parallel+engine-order; also thp+parallel-cold)")
    ap.add_argument("--keep-weights", action="store_true", help="keep the smoke presets' shards")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    B.OUT = out
    clock = Clock(a.budget)
    B.set_subreaper()
    b = LlmBench(a)
    b.out = out
    try:
        b.found_thp = B.thp_get()["enabled"]
    except OSError as e:
        b.found_thp = None
        B.log(f"no THP control ({e!r})")
    kernel = os.uname().release
    criu_ok, b.no_criu_reason = b.gpu_ok, "" if b.gpu_ok else "no CUDA driver API / NVML"
    if kernel.startswith("4.4.0"):
        criu_ok, b.no_criu_reason = False, f"kernel {kernel}: gVisor, where CRIU and CUDA checkpoint do not work"
    results: dict = {"startedAt": time.time(), "kernel": kernel, "presets": [], "bandwidths": {}}
    b.results = results
    try:
        results["environment"] = b.environment() if b.gpu_ok else {"kernel": kernel}
    except Exception as e:  # noqa: BLE001
        results["environment"] = {"kernel": kernel, "error": repr(e)}
    presets = [p for p in a.presets.split(",") if p]
    try:
        for i, preset in enumerate(presets):
            full = i == len(presets) - 1
            p: dict = {"preset": preset, "model": MODEL.get(preset, preset)}
            try:
                p = run_preset(b, preset, clock, results["bandwidths"], criu_ok, not a.no_check, full)
            except Exception as e:  # noqa: BLE001
                B.log(f"{preset} FAILED: {e}")
                p["error"] = str(e)[-3000:]
            results["presets"].append(p)
            (out / "results.json").write_text(json.dumps(results, indent=1))
            if not full and not a.keep_weights:
                shutil.rmtree(b.data / preset, ignore_errors=True)
        # the full model's check last, where time is left (it loads the weights again)
        last = results["presets"][-1] if results["presets"] else {}
        if not a.no_check and "coldSeconds" in last and len(presets) > 0 and clock.fits(75, "check of the full model"):
            b.preset = presets[-1]
            last["check"] = b.check(presets[-1], timeout=clock.left() - 10)
    finally:
        try:
            if b.found_thp:
                B.thp_set(b.found_thp)
        except OSError:
            pass
        results["rows"] = [r for p in results["presets"] for r in p.get("rows", [])]
        results["finishedAt"] = time.time()
        (out / "results.json").write_text(json.dumps(results, indent=1))
        for f in b.data.glob("worker*"):
            shutil.copy(f, b.logs_dir / f.name)
        B.sh(f"tar -C {b.logs_dir.parent} -czf {out / 'criu-logs.tar.gz'} {b.logs_dir.name}", check=False)
    t = table(results)
    (out / "table.txt").write_text(t + "\n")
    print(t)
    rows = results["rows"]
    return 0 if rows and all(r.get("outputEqual") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Cold start vs checkpoint/restore of a GPU inference worker (bench/gpu/worker.py),
with CRIU (Debian trixie's 4.1.1, carried in .criu-carry/) and the CUDA checkpoint
driver API (src/agent/cuda/cuda_ckpt.py). Run as root on the GPU machine:

    python3 bench/gpu/bench.py --sizes 1,4,16 --out "$OUT"

For each size N (GiB of weights):
  cold start, page cache dropped, then warm (spawn -> ready file)
  checkpoint: CUDA lock+checkpoint, then `criu dump` (image size)
  restores, each followed by a query whose answer must equal the cold start's:
    stock       images on disk, warm page cache, THP as found       (the baseline)
    stock-cold  the same after dropping the page cache
    then the restore-speed changes, each measured against `stock` in this run
    (see VARIANTS below).
Also measures storage read bandwidth, page-cache read bandwidth, anonymous-memory
fault rate (4 KiB pages vs THP) and host-to-device bandwidth on the same machine.

Writes results.json (rows per size, variants per row), table.txt and bench.log under
--out; prints the table last.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "src/agent/cuda"))
import cuda_ckpt  # noqa: E402

GiB = 2**30
THP = Path("/sys/kernel/mm/transparent_hugepage")
LOG_LINES: list[str] = []
OUT: Path = Path(".")


def log(msg: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    LOG_LINES.append(line)
    try:
        (OUT / "bench.log").write_text("\n".join(LOG_LINES) + "\n")
    except OSError:
        pass


def sh(cmd: str, check: bool = True) -> str:
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {r.returncode}: {r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout + r.stderr


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def thp_get() -> dict:
    def cur(p: Path) -> str:
        t = p.read_text()
        return t[t.index("[") + 1:t.index("]")] if "[" in t else t.strip()
    return {"enabled": cur(THP / "enabled"), "defrag": cur(THP / "defrag")}


def thp_set(enabled: str | None = None, defrag: str | None = None) -> None:
    if enabled:
        (THP / "enabled").write_text(enabled)
    if defrag:
        (THP / "defrag").write_text(defrag)


def set_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
        return st.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def reap(pid: int, timeout: float = 30) -> None:
    """Kill `pid` and wait until its PID (and its threads' TIDs) are free."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    end = time.time() + timeout
    while time.time() < end:
        try:
            got, _ = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                return
        except ChildProcessError:
            if not Path(f"/proc/{pid}").exists():
                return
        time.sleep(0.01)
    raise RuntimeError(f"pid {pid} did not go away")


def dir_bytes(d: Path) -> int:
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file())


def read_files(paths: list[Path], threads: int = 8, chunk: int = 64 << 20) -> float:
    """Read files into nothing with `threads` readers over `chunk` ranges; returns seconds."""
    work = []
    for p in paths:
        size = p.stat().st_size
        work += [(p, off, min(chunk, size - off)) for off in range(0, size, chunk)]
    work.sort(key=lambda w: w[1])  # spread early ranges first
    lock = threading.Lock()
    t0 = time.perf_counter()

    def run() -> None:
        buf = bytearray(chunk)
        fds: dict[Path, int] = {}
        try:
            while True:
                with lock:
                    if not work:
                        return
                    p, off, n = work.pop(0)
                fd = fds.get(p)
                if fd is None:
                    fd = fds[p] = os.open(p, os.O_RDONLY)
                os.preadv(fd, [memoryview(buf)[:n]], off)
        finally:
            for fd in fds.values():
                os.close(fd)

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


class ServeHelper:
    """cuda_ckpt.py in serve mode, as the TypeScript engine runs it (started early)."""

    def __init__(self) -> None:
        self.p = subprocess.Popen([sys.executable, str(REPO / "src/agent/cuda/cuda_ckpt.py"), "serve"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.n = 0
        self.ready = None

    def wait_ready(self) -> None:
        if self.ready is None:
            self.ready = json.loads(self.p.stdout.readline())
            if not self.ready.get("ok"):
                raise RuntimeError(f"helper: {self.ready}")

    def call(self, op: str, **kw) -> dict:
        self.wait_ready()
        self.n += 1
        self.p.stdin.write(json.dumps({"id": self.n, "op": op, **kw}) + "\n")
        self.p.stdin.flush()
        r = json.loads(self.p.stdout.readline())
        if not r.get("ok"):
            raise RuntimeError(f"helper {op}: {r.get('error')}")
        return r

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait(timeout=10)


def thp_coverage(pid: int) -> float | None:
    try:
        kv = {l.split(":")[0]: int(l.split()[1]) for l in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:] if l.split()[-1] == "kB"}
        return kv.get("AnonHugePages", 0) / max(1, kv.get("Anonymous", 1))
    except OSError:
        return None


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread of `pid`: (name, CPU seconds so far, user + system), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            st = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        name, rest = st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2:].split()
        out[int(tid)] = (name, (int(rest[11]) + int(rest[12])) / tick)
    return out


def cpu_delta(before: dict, after: dict, caller: float, wall: float) -> dict:
    """Where the CPU went during the driver's restore: the target's threads (the driver
    runs its restore on a thread of the process) and the caller, against the wall time."""
    d = sorted(((after[t][1] - before.get(t, ("", 0.0))[1], t, after[t][0]) for t in after), reverse=True)
    return {"wallSeconds": wall, "targetCpuSeconds": sum(x for x, _, _ in d), "callerCpuSeconds": caller,
            "busiestThread": {"tid": d[0][1], "name": d[0][2], "cpuSeconds": d[0][0]} if d else None,
            "threadsOver10ms": sum(1 for x, _, _ in d if x > 0.01)}


class Bench:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.data = Path(a.data)
        self.data.mkdir(parents=True, exist_ok=True)
        self.weights = self.data / "weights.bin"
        self.criu = [str(REPO / ".criu-carry/criu")]
        if a.criu_root:
            r = Path(a.criu_root)
            self.criu = [str(r / "lib64/ld-linux-x86-64.so.2"), "--library-path",
                         f"{r}/usr/lib/x86_64-linux-gnu:{r}/lib/x86_64-linux-gnu", str(r / "usr/sbin/criu")]
        # CRIU with our parallel page restore patch (scripts/setup-criu.sh --parallel-restore)
        par = Path(a.parallel_root) if a.parallel_root else REPO / ".criu-carry-parallel"
        self.criu_parallel = [str(par / "criu")] if (par / "criu").exists() else None
        self.drv = cuda_ckpt.Driver()
        self.nvml = cuda_ckpt.Nvml()
        self.gpu_uuid = self.nvml.gpus()[0]["uuid"]
        self.extra_dump: list[str] = []
        self.tmpfs = Path("/mnt/snapbench-tmpfs")
        self.logs_dir = self.data / "criu-logs"
        shutil.rmtree(self.logs_dir, ignore_errors=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)

    # ---------- environment and bandwidths ----------
    def environment(self) -> dict:
        env = {
            "kernel": os.uname().release,
            "thp": thp_get(),
            "cpus": os.cpu_count(),
            "memTotalGiB": int(Path("/proc/meminfo").read_text().split()[1]) / 2**20,
            "driverVersion": self.drv.version(),
            "gpus": [cuda_ckpt.public(g) for g in self.nvml.gpus()],
            "criu": sh(" ".join(self.criu) + " --version", check=False).strip().splitlines()[-1:],
            "criuParallel": (sh(" ".join(self.criu_parallel) + " --version", check=False).strip().splitlines()[-1:]
                             if self.criu_parallel else None),
            "disk": sh(f"df -h {self.data} | tail -1", check=False).strip(),
        }
        log(f"environment: {json.dumps(env)}")
        return env

    def gen_weights(self, gib: float) -> None:
        need = int(gib * GiB)
        if self.weights.exists() and self.weights.stat().st_size >= need:
            return
        t0 = time.perf_counter()
        code = f"""
import torch, sys
n = {need}; chunk = 256 << 20
g = torch.Generator(device='cuda')
with open({str(self.weights)!r}, 'wb') as f:
    for i, off in enumerate(range(0, n, chunk)):
        m = min(chunk, n - off) // 2
        g.manual_seed(1000 + i)
        t = torch.randn(m, dtype=torch.bfloat16, device='cuda', generator=g)
        f.write(t.cpu().view(torch.uint8).numpy().tobytes())
"""
        subprocess.run([sys.executable, "-c", code], check=True)
        os.sync()
        log(f"weights: {need / GiB:.0f} GiB written in {time.perf_counter() - t0:.1f} s")

    def bandwidths(self) -> dict:
        out: dict = {}
        n = min(self.weights.stat().st_size, 4 * GiB)
        drop_caches()
        t0 = time.perf_counter()
        with open(self.weights, "rb", buffering=0) as f:
            buf = bytearray(16 << 20)
            left = n
            while left > 0:
                left -= f.readinto(memoryview(buf)[:min(len(buf), left)])
        out["storageReadGBps"] = n / (time.perf_counter() - t0) / 1e9
        drop_caches()
        out["storageReadParallelGBps"] = n / read_files_range(self.weights, n) / 1e9
        t0 = time.perf_counter()  # now cached
        with open(self.weights, "rb", buffering=0) as f:
            left = n
            while left > 0:
                left -= f.readinto(memoryview(buf)[:min(len(buf), left)])
        out["pageCacheReadGBps"] = n / (time.perf_counter() - t0) / 1e9
        # anonymous-memory first touch, 4 KiB pages vs THP
        found = thp_get()
        for mode in ("never", "always"):
            thp_set(mode)
            m = mmap.mmap(-1, 4 * GiB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            cbuf = (ctypes.c_char * (4 * GiB)).from_buffer(m)
            t0 = time.perf_counter()
            ctypes.memset(cbuf, 1, 4 * GiB)
            dt = time.perf_counter() - t0
            del cbuf
            m.close()
            out[f"anonFirstTouchGBps_{mode}"] = 4 * GiB / dt / 1e9
        thp_set(found["enabled"])
        code = """
import torch, json
n = 2 << 30
d = torch.empty(n, dtype=torch.uint8, device='cuda')
res = {}
for name, pin in (('pinned', True), ('pageable', False)):
    h = torch.ones(n, dtype=torch.uint8, pin_memory=pin)
    ts = []
    for _ in range(4):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); d.copy_(h, non_blocking=pin); e.record(); e.synchronize()
        ts.append(s.elapsed_time(e) / 1000)
    res['h2d_' + name] = n / sorted(ts)[len(ts) // 2] / 1e9
print(json.dumps(res))
"""
        r = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        out["h2dPinnedGBps"] = r["h2d_pinned"]
        out["h2dPageableGBps"] = r["h2d_pageable"]
        log(f"bandwidths: {json.dumps(out)}")
        return out

    # ---------- worker ----------
    def spawn(self, gib: float, tag: str) -> tuple[int, dict, float]:
        ready = self.data / f"ready-{tag}.json"
        ready.unlink(missing_ok=True)
        err = open(self.data / f"worker-{tag}.err", "w")
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, str(HERE / "worker.py"), "--weights", str(self.weights), "--gib", str(gib),
                              "--ready", str(ready), "--out", str(self.data / "answer.json"), "--log", str(self.data / "worker.log")],
                             stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True, cwd=self.data)
        err.close()
        while not ready.exists():
            if p.poll() is not None:
                raise RuntimeError(f"worker exited {p.returncode}: {(self.data / f'worker-{tag}.err').read_text()[-3000:]}")
            time.sleep(0.005)
        dt = time.perf_counter() - t0
        info = json.loads(ready.read_text())
        return p.pid, info, dt

    def ask(self, pid: int, timeout: float = 120) -> dict:
        ans = self.data / "answer.json"
        ans.unlink(missing_ok=True)
        os.kill(pid, signal.SIGUSR2)
        end = time.time() + timeout
        while not ans.exists():
            if not alive(pid):
                raise RuntimeError(f"worker {pid} died before answering")
            if time.time() > end:
                raise RuntimeError(f"worker {pid} did not answer in {timeout} s")
            time.sleep(0.002)
        return json.loads(ans.read_text())

    # ---------- checkpoint ----------
    def dump(self, pid: int, images: Path) -> dict:
        if images.exists():
            shutil.rmtree(images)
        images.mkdir(parents=True)
        used = self.nvml.usage(pid)
        t0 = time.perf_counter()
        s = cuda_ckpt.suspend(self.drv, pid)
        t1 = time.perf_counter()
        args = self.criu + ["dump", "-t", str(pid), "-D", str(images), "-o", "dump.log", "-v4"] + self.extra_dump
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            tail = (images / "dump.log").read_text(errors="replace").splitlines()[-25:] if (images / "dump.log").exists() else []
            shutil.copy(images / "dump.log", self.logs_dir / "dump-failed.log") if (images / "dump.log").exists() else None
            if not self.extra_dump:
                log("criu dump failed; retrying with --ext-unix-sk --link-remap --file-locks --tcp-established:\n  " + "\n  ".join(tail))
                self.extra_dump = ["--ext-unix-sk", "--link-remap", "--file-locks", "--tcp-established"]
                shutil.rmtree(images)
                images.mkdir()
                t1 = time.perf_counter()
                args = self.criu + ["dump", "-t", str(pid), "-D", str(images), "-o", "dump.log", "-v4"] + self.extra_dump
                r = subprocess.run(args, capture_output=True, text=True)
            if r.returncode != 0:
                tail = (images / "dump.log").read_text(errors="replace").splitlines()[-30:] if (images / "dump.log").exists() else [r.stderr]
                raise RuntimeError("criu dump failed:\n" + "\n".join(tail))
        t2 = time.perf_counter()
        os.sync()
        t3 = time.perf_counter()
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        return {"cudaLockSeconds": s["lockSeconds"], "cudaCheckpointSeconds": s["checkpointSeconds"],
                "criuDumpSeconds": t2 - t1, "syncSeconds": t3 - t2, "checkpointSeconds": t2 - t0,
                "checkpointBytes": dir_bytes(images), "gpuUsedBytes": sum(used.values())}

    def leave_running(self, pid: int, ref: dict) -> dict:
        """The engine's checkpoint path: serve-mode helper suspends, `criu dump
        --leave-running`, the helper gives the source its GPU back, the source answers."""
        scratch = self.data / "images-leave-running"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        h = ServeHelper()
        try:
            t0 = time.perf_counter()
            usage = h.call("usage", pids=[pid])["usedBytes"]
            sus = h.call("suspend", pids=[pid])["results"]
            t1 = time.perf_counter()
            r = subprocess.run(self.criu + ["dump", "-t", str(pid), "-D", str(scratch), "-o", "dump.log", "-v4", "--leave-running"] + self.extra_dump, capture_output=True, text=True)
            t2 = time.perf_counter()
            res = h.call("resume", pids=[pid])["results"]
            t3 = time.perf_counter()
        finally:
            h.close()
        ans = self.ask(pid)
        equal = ans["forwardSha256"] == ref["forwardSha256"] and ans["weightsSha256"] == ref["weightsSha256"]
        out = {"dumpRc": r.returncode, "suspendSeconds": t1 - t0, "dumpSeconds": t2 - t1, "resumeSourceSeconds": t3 - t2,
               "usage": usage, "suspend": sus, "resume": res, "sourceOutputEqual": equal, "imageBytes": dir_bytes(scratch)}
        log(f"  leave-running checkpoint (engine path): dump rc {r.returncode}, suspend {t1 - t0:.2f} s, dump {t2 - t1:.2f} s, source resumed in {t3 - t2:.2f} s, source answers the same: {equal}")
        shutil.rmtree(scratch, ignore_errors=True)
        return out

    # ---------- restore ----------
    def restore(self, images: Path, need: int, reference: dict, name: str, prefetch: bool = False, keep_log: bool = False, engine_order: bool = False,
                criu: list[str] | None = None, threads: int | None = None) -> dict:
        helper = ServeHelper() if engine_order else None  # started before criu: overlaps it
        free = cuda_ckpt.check_free(self.nvml, need, [self.gpu_uuid])[0]["freeBytes"]
        work = self.data / "restore-work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        pidfile = work / "pid"
        env = dict(os.environ)
        if threads is not None:
            env["SNAPSHOTCTL_CRIU_READ_THREADS"] = str(threads)
        args = (criu or self.criu) + ["restore", "-D", str(images), "-W", str(work), "-o", "restore.log", "-v4",
                            "--restore-detached", "--pidfile", str(pidfile)] + (["--leave-stopped"] if engine_order else []) + [a for a in self.extra_dump if a in ("--ext-unix-sk", "--file-locks", "--tcp-established")]
        pf = None
        t0 = time.perf_counter()
        if prefetch:
            files = sorted((p for p in images.iterdir() if p.name.startswith("pages-")), key=lambda p: -p.stat().st_size)
            pf = threading.Thread(target=read_files, args=(files, 8))
            pf.start()
        r = subprocess.run(args, capture_output=True, text=True, env=env)
        t1 = time.perf_counter()
        if pf:
            pf.join()
        logtxt = (work / "restore.log").read_text(errors="replace") if (work / "restore.log").exists() else r.stderr
        if keep_log:
            (self.logs_dir / f"restore-{name}.log").write_text(logtxt)
        if r.returncode != 0:
            (self.logs_dir / f"restore-{name}-failed.log").write_text(logtxt)
            raise RuntimeError(f"criu restore failed ({name}):\n" + "\n".join(logtxt.splitlines()[-30:]))
        pid = int(pidfile.read_text().strip())
        coverage = thp_coverage(pid)
        if helper:
            # the engine's order: tree stopped by CRIU, continued (the driver's restore
            # thread must run), then CUDA restore + unlock through the serve-mode helper
            os.kill(pid, signal.SIGCONT)
            rr = helper.call("resume", pids=[pid], needBytes=need, gpus=[self.gpu_uuid])["results"][0]
            helper.close()
            res = {"restoreSeconds": rr["restoreSeconds"], "unlockSeconds": rr["unlockSeconds"]}
        else:
            cpu0, self0 = thread_cpu(pid), time.process_time()
            res = cuda_ckpt.resume(self.drv, pid)
            res["cpu"] = cpu_delta(cpu0, thread_cpu(pid), time.process_time() - self0, res["restoreSeconds"] + res["unlockSeconds"])
        t2 = time.perf_counter()
        ans = self.ask(pid)
        t3 = time.perf_counter()
        equal = ans["forwardSha256"] == reference["forwardSha256"] and ans["weightsSha256"] == reference["weightsSha256"]
        reap(pid)
        m = re.findall(r"Read (\d+) bytes of pages in \d+ chunks with (\d+) threads", logtxt)
        read_threads = max((int(t) for _, t in m), default=1)
        out = {"variant": name, "criuRestoreSeconds": t1 - t0, "readThreads": read_threads, "cudaRestoreSeconds": res["restoreSeconds"],
               "cudaUnlockSeconds": res["unlockSeconds"], "restoreSeconds": t2 - t0, "firstAnswerSeconds": t3 - t2,
               "outputEqual": equal, "gpuFreeBeforeBytes": free, "thpCoverage": coverage, "cudaRestoreCpu": res.get("cpu")}
        log(f"  restore {name}: {t2 - t0:.2f} s (criu {t1 - t0:.2f} + cuda {res['restoreSeconds']:.2f} + unlock {res['unlockSeconds']:.3f}), page-reading threads {read_threads}, THP coverage {coverage}, output equal: {equal}")
        if res.get("cpu"):
            c = res["cpu"]
            log(f"    CUDA restore + unlock {c['wallSeconds']:.2f} s wall: the worker's threads {c['targetCpuSeconds']:.2f} s CPU "
                f"(busiest {c['busiestThread']}; {c['threadsOver10ms']} over 10 ms), the caller {c['callerCpuSeconds']:.2f} s")
        return out

    def warm(self, images: Path) -> None:
        read_files([p for p in images.iterdir() if p.is_file()], 8)

    def variants(self, images: Path, need: int, ref: dict, full: bool, gib: float) -> list[dict]:
        found = self.found_thp
        rows = []
        tag = f"{gib:g}g"

        def run(name: str, thp: str, cold: bool = False, prefetch: bool = False, where: Path = images, keep: bool = False, engine_order: bool = False,
                parallel: bool = False, threads: int | None = None) -> None:
            if parallel and not self.criu_parallel:
                return
            thp_set(thp)
            if cold:
                drop_caches()
            else:
                self.warm(where)
            try:
                r = self.restore(where, need, ref, f"{name}-{tag}", prefetch=prefetch, keep_log=keep, engine_order=engine_order,
                                 criu=self.criu_parallel if parallel else None, threads=threads)
                r["variant"] = name
                r["thp"] = thp
                r["pageCache"] = "dropped" if cold else "warm"
                r["images"] = "tmpfs" if where != images else "disk"
                r["criu"] = "parallel-restore patch" if parallel else "debian"
                rows.append(r)
            except Exception as e:  # noqa: BLE001
                log(f"  restore {name} FAILED: {e}")
                rows.append({"variant": name, "error": str(e)[-1500:], "outputEqual": False})

        other = "always" if found != "always" else "madvise"
        run("stock", found, keep=full)
        run("stock-cold", found, cold=True)
        run(f"thp-{other}", other, keep=full)
        run(f"thp-{other}+engine-order", other, engine_order=True)
        if full:
            run(f"thp-{other}-cold", other, cold=True)
        if self.a.prefetch:
            run(f"thp-{other}-cold+prefetch", other, cold=True, prefetch=True)
        # images staged on a huge-page tmpfs (what a node-local cache of artifacts would do)
        os.makedirs(self.tmpfs, exist_ok=True)
        sh(f"mountpoint -q {self.tmpfs} || mount -t tmpfs -o size=64g,huge=always snapbench {self.tmpfs}")
        dst = self.tmpfs / "images"
        shutil.rmtree(dst, ignore_errors=True)
        t0 = time.perf_counter()
        shutil.copytree(images, dst)
        staged = time.perf_counter() - t0
        run(f"thp-{other}+tmpfs", other, where=dst, keep=full)
        rows[-1]["stagingSeconds"] = staged
        shutil.rmtree(dst, ignore_errors=True)
        # CRIU with the parallel page restore patch: default threads (CPUs, at most 8)
        run("parallel", found, parallel=True, keep=full)
        run(f"thp-{other}+parallel", other, parallel=True)
        run(f"thp-{other}+parallel+engine-order", other, parallel=True, engine_order=True, keep=full)
        if full:
            # the patched binary told to read with one thread: the patch alone changes nothing
            run("parallel-1-thread", found, parallel=True, threads=1)
            run(f"thp-{other}+parallel-4-threads", other, parallel=True, threads=4)
            run(f"thp-{other}+parallel-16-threads", other, parallel=True, threads=16)
            run("parallel-cold", found, parallel=True, cold=True)
            run("stock-repeat", found)
        thp_set(found)
        return rows

    # ---------- one size ----------
    def size(self, gib: float, full: bool) -> dict:
        row: dict = {"gib": gib}
        log(f"== {gib:g} GiB ==")
        drop_caches()
        pid, info, dt = self.spawn(gib, f"{gib:g}-cold")
        row["coldColdCacheSeconds"] = dt
        row["coldColdCacheParts"] = {k: info[k] for k in ("importSeconds", "contextSeconds", "loadSeconds", "warmupSeconds")}
        ref = self.ask(pid)
        reap(pid)
        log(f"  cold start (page cache dropped): {dt:.2f} s {row['coldColdCacheParts']}")
        pid, info, dt = self.spawn(gib, f"{gib:g}-warm")
        row["coldSeconds"] = dt
        row["coldParts"] = {k: info[k] for k in ("importSeconds", "contextSeconds", "loadSeconds", "warmupSeconds")}
        again = self.ask(pid)
        # two cold starts agree (cuBLAS picked the same kernels); restores are compared
        # with the answer of the worker that was checkpointed
        row["coldOutputEqual"] = again["forwardSha256"] == ref["forwardSha256"] and again["weightsSha256"] == ref["weightsSha256"]
        row["answer"] = again
        ref = again
        log(f"  cold start (warm page cache): {dt:.2f} s {row['coldParts']}")
        if self.a.leave_running_check and not getattr(self, "checked_leave_running", False):
            self.checked_leave_running = True
            try:
                row["leaveRunning"] = self.leave_running(pid, ref)
            except Exception as e:  # noqa: BLE001
                log(f"  leave-running checkpoint FAILED: {e}")
                row["leaveRunning"] = {"error": str(e)[-1500:], "sourceOutputEqual": False}
        images = self.data / f"images-{gib:g}g"
        ck = self.dump(pid, images)
        row.update(ck)
        log(f"  checkpoint: {ck['checkpointSeconds']:.2f} s (cuda lock {ck['cudaLockSeconds']:.2f} + checkpoint {ck['cudaCheckpointSeconds']:.2f}, criu dump {ck['criuDumpSeconds']:.2f}), {ck['checkpointBytes'] / GiB:.2f} GiB of images, GPU used {ck['gpuUsedBytes'] / GiB:.2f} GiB")
        need = ck["gpuUsedBytes"] + (256 << 20)
        rows = self.variants(images, need, ref, full, gib)
        row["variants"] = rows
        by = {r["variant"]: r for r in rows}
        stock = by.get("stock", {})
        row["restoreSeconds"] = stock.get("restoreSeconds")
        row["restoreColdCacheSeconds"] = by.get("stock-cold", {}).get("restoreSeconds")
        row["criuRestoreSeconds"] = stock.get("criuRestoreSeconds")
        row["cudaRestoreSeconds"] = stock.get("cudaRestoreSeconds")
        ok = [r for r in rows if r.get("restoreSeconds") is not None and r.get("pageCache") == "warm"]
        best = min(ok, key=lambda r: r["restoreSeconds"]) if ok else {}
        row["bestVariant"] = best.get("variant")
        row["restoreBestSeconds"] = best.get("restoreSeconds")
        row["outputEqual"] = bool(rows) and all(r.get("outputEqual") for r in rows) and row["coldOutputEqual"] and row.get("leaveRunning", {}).get("sourceOutputEqual", True)
        shutil.rmtree(images, ignore_errors=True)
        return row


def read_files_range(path: Path, n: int) -> float:
    """Parallel read of the first n bytes of one file (8 threads)."""
    chunk = 64 << 20
    work = [(off, min(chunk, n - off)) for off in range(0, n, chunk)]
    lock = threading.Lock()
    fd = os.open(path, os.O_RDONLY)
    t0 = time.perf_counter()

    def run() -> None:
        buf = bytearray(chunk)
        while True:
            with lock:
                if not work:
                    return
                off, k = work.pop(0)
            os.preadv(fd, [memoryview(buf)[:k]], off)

    ts = [threading.Thread(target=run) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    os.close(fd)
    return time.perf_counter() - t0


def table(rows: list[dict], bw: dict) -> str:
    lines = ["| GiB | cold start, cache dropped (s) | cold start, warm cache (s) | checkpoint (s): CUDA + CRIU | image GiB | restore stock, warm (s): CRIU + CUDA | restore stock, cache dropped (s) | best restore, warm (s) | best change | output equal |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['gib']:g} | error: {r['error'][:120]} |")
            continue
        st = next((v for v in r["variants"] if v["variant"] == "stock"), {})
        f = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
        lines.append(
            f"| {r['gib']:g} | {f(r['coldColdCacheSeconds'])} | {f(r['coldSeconds'])} | {f(r['checkpointSeconds'])}: {f(r['cudaLockSeconds'] + r['cudaCheckpointSeconds'])} + {f(r['criuDumpSeconds'])} "
            f"| {r['checkpointBytes'] / GiB:.2f} | {f(r['restoreSeconds'])}: {f(st.get('criuRestoreSeconds'))} + {f(st.get('cudaRestoreSeconds'))} | {f(r['restoreColdCacheSeconds'])} "
            f"| {f(r['restoreBestSeconds'])} | {r['bestVariant']} | {'yes' if r['outputEqual'] else 'NO'} |")
    lines.append("")
    lines.append("Restore variants (s; CRIU + CUDA):")
    for r in rows:
        for v in r.get("variants", []):
            if "error" in v:
                lines.append(f"  {r['gib']:g} GiB {v['variant']}: FAILED {v['error'][:200]}")
            else:
                extra = f", staging {v['stagingSeconds']:.2f}" if "stagingSeconds" in v else ""
                lines.append(f"  {r['gib']:g} GiB {v['variant']:<28} {v['restoreSeconds']:6.2f} = {v['criuRestoreSeconds']:.2f} + {v['cudaRestoreSeconds']:.2f} (+unlock {v['cudaUnlockSeconds']:.3f}); first answer {v['firstAnswerSeconds']:.3f}{extra}; equal={v['outputEqual']}")
    lines.append("")
    lines.append("Bandwidths: " + ", ".join(f"{k} {v:.2f}" for k, v in bw.items()))
    return "\n".join(lines)


def main() -> int:
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,4,16")
    ap.add_argument("--full-from", type=float, default=16, help="run every restore variant from this size up")
    ap.add_argument("--out", default=os.environ.get("OUT", "bench-out"))
    ap.add_argument("--data", default="/var/tmp/snapbench")
    ap.add_argument("--criu-root", default="")
    ap.add_argument("--parallel-root", default="", help="CRIU built with scripts/criu-parallel-restore.patch (default .criu-carry-parallel)")
    ap.add_argument("--leave-running-check", action="store_true", help="also run the engine's --leave-running checkpoint path once (first size)")
    ap.add_argument("--prefetch", action="store_true", help="also measure parallel read-ahead of the images during a cold-cache restore")
    ap.add_argument("--weights-only", action="store_true", help="only write the weights file for the largest size (for engine-check.mjs), then exit")
    a = ap.parse_args()
    OUT = Path(a.out)
    OUT.mkdir(parents=True, exist_ok=True)
    set_subreaper()
    b = Bench(a)
    b.found_thp = thp_get()["enabled"]
    results: dict = {"startedAt": time.time(), "environment": b.environment(), "rows": [], "bandwidths": {}}
    sizes = [float(s) for s in a.sizes.split(",")]
    if a.weights_only:
        b.gen_weights(max(sizes))
        return 0
    try:
        b.gen_weights(max(sizes))
        results["bandwidths"] = b.bandwidths()
        for gib in sizes:
            try:
                results["rows"].append(b.size(gib, gib >= a.full_from))
            except Exception as e:  # noqa: BLE001
                log(f"size {gib:g} failed: {e}")
                results["rows"].append({"gib": gib, "error": str(e)[-3000:], "outputEqual": False})
            (OUT / "results.json").write_text(json.dumps(results, indent=1))
    finally:
        thp_set(b.found_thp)
        results["finishedAt"] = time.time()
        (OUT / "results.json").write_text(json.dumps(results, indent=1))
        sh(f"tar -C {b.logs_dir.parent} -czf {OUT / 'criu-logs.tar.gz'} {b.logs_dir.name}", check=False)
    t = table(results["rows"], results["bandwidths"])
    (OUT / "table.txt").write_text(t + "\n")
    print(t)
    return 0 if results["rows"] and all(r.get("outputEqual") for r in results["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())

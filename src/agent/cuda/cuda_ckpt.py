#!/usr/bin/env python3
"""CUDA checkpoint helper for snapshotctl's `cuda` engine (and bench/gpu).

Drives NVIDIA's CUDA checkpoint driver API (driver >= 570; 580 for GPU remapping)
on ANOTHER process, by pid, from this controller process:

    cuCheckpointProcessLock        running      -> locked        (CUDA calls block)
    cuCheckpointProcessCheckpoint  locked       -> checkpointed  (device memory -> host, GPU released)
    cuCheckpointProcessRestore     checkpointed -> locked        (host -> device, optional GPU remap)
    cuCheckpointProcessUnlock      locked       -> running

It talks to libcuda.so.1 through ctypes (no dependency on a cuda-python version) and
to NVML (libnvidia-ml.so.1) for free memory and per-process usage, which needs no
CUDA context. Every command prints one JSON object on stdout; failures print
{"ok": false, "error": ...} and exit 1 (2 for usage errors, 3 when the driver or its
checkpoint API is missing).

    cuda_ckpt.py probe                     driver version, checkpoint API present, GPUs
    cuda_ckpt.py gpus                      index, uuid, name, free/total bytes (NVML)
    cuda_ckpt.py state PID                 running | locked | checkpointed | failed
    cuda_ckpt.py usage PID                 GPU memory PID uses, per GPU uuid (NVML)
    cuda_ckpt.py suspend PID [--timeout-ms N]   lock + checkpoint
    cuda_ckpt.py resume PID [--map OLD=NEW ...] [--need-bytes N --gpu UUID ...]
                                           free-memory check, restore + unlock
    cuda_ckpt.py lock|checkpoint|restore|unlock PID   single steps
    cuda_ckpt.py serve                     JSON-lines requests on stdin (the engine's mode)

The restore thread: the driver runs a helper thread inside the target process that
performs checkpoint and restore; it must be able to run (the process must not be
SIGSTOPped) while a checkpoint or restore call is in flight.
"""
from __future__ import annotations

import ctypes
import json
import os
import sys
import time

CUDA_SUCCESS = 0
STATES = {0: "running", 1: "locked", 2: "checkpointed", 3: "failed"}


class CudaError(Exception):
    def __init__(self, call: str, code: int, name: str = "", text: str = ""):
        super().__init__(f"{call} failed: {name or code}{': ' + text if text else ''}")
        self.call = call
        self.code = code


class Unsupported(Exception):
    pass


# --- struct layouts from cuda.h (CUDA 12.8+/13.0): each args struct is 64 bytes ---
class LockArgs(ctypes.Structure):
    _fields_ = [("timeoutMs", ctypes.c_uint), ("reserved0", ctypes.c_uint), ("reserved1", ctypes.c_uint64 * 7)]


class PlainArgs(ctypes.Structure):  # CUcheckpointCheckpointArgs / CUcheckpointUnlockArgs
    _fields_ = [("reserved", ctypes.c_uint64 * 8)]


class CUuuid(ctypes.Structure):
    _fields_ = [("bytes", ctypes.c_ubyte * 16)]


class GpuPair(ctypes.Structure):
    _fields_ = [("oldUuid", CUuuid), ("newUuid", CUuuid)]


class RestoreArgs(ctypes.Structure):
    _fields_ = [
        ("gpuPairs", ctypes.POINTER(GpuPair)),
        ("gpuPairsCount", ctypes.c_uint),
        ("reserved", ctypes.c_char * 44),
        ("reserved1", ctypes.c_uint64),
    ]


for _s in (LockArgs, PlainArgs, RestoreArgs):
    assert ctypes.sizeof(_s) == 64, _s


def uuid_str(raw: bytes) -> str:
    h = raw.hex()
    return f"GPU-{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def uuid_bytes(s: str) -> bytes:
    h = s.removeprefix("GPU-").replace("-", "")
    if len(h) != 32:
        raise ValueError(f"not a GPU UUID: {s}")
    return bytes.fromhex(h)


class Driver:
    """The CUDA driver's checkpoint API, loaded lazily."""

    def __init__(self, lib: str = "libcuda.so.1"):
        try:
            self.cu = ctypes.CDLL(lib)
        except OSError as e:
            raise Unsupported(f"no CUDA driver library ({lib}: {e})") from e
        for fn in ("cuCheckpointProcessLock", "cuCheckpointProcessCheckpoint", "cuCheckpointProcessRestore",
                   "cuCheckpointProcessUnlock", "cuCheckpointProcessGetState"):
            if not hasattr(self.cu, fn):
                raise Unsupported(f"the CUDA driver has no {fn} (needs driver >= 570)")
        self._check("cuInit", self.cu.cuInit(0))

    def _check(self, call: str, rc: int) -> None:
        if rc == CUDA_SUCCESS:
            return
        name = ctypes.c_char_p()
        text = ctypes.c_char_p()
        try:
            self.cu.cuGetErrorName(rc, ctypes.byref(name))
            self.cu.cuGetErrorString(rc, ctypes.byref(text))
        except Exception:  # noqa: BLE001
            pass
        raise CudaError(call, rc, (name.value or b"").decode(), (text.value or b"").decode())

    def version(self) -> int:
        v = ctypes.c_int()
        self._check("cuDriverGetVersion", self.cu.cuDriverGetVersion(ctypes.byref(v)))
        return v.value

    def state(self, pid: int) -> str:
        st = ctypes.c_int()
        self._check("cuCheckpointProcessGetState", self.cu.cuCheckpointProcessGetState(pid, ctypes.byref(st)))
        return STATES.get(st.value, str(st.value))

    def restore_tid(self, pid: int) -> int | None:
        if not hasattr(self.cu, "cuCheckpointProcessGetRestoreThreadId"):
            return None
        tid = ctypes.c_int()
        self._check("cuCheckpointProcessGetRestoreThreadId", self.cu.cuCheckpointProcessGetRestoreThreadId(pid, ctypes.byref(tid)))
        return tid.value

    def lock(self, pid: int, timeout_ms: int = 0) -> None:
        args = LockArgs()
        args.timeoutMs = timeout_ms
        self._check("cuCheckpointProcessLock", self.cu.cuCheckpointProcessLock(pid, ctypes.byref(args)))

    def checkpoint(self, pid: int) -> None:
        self._check("cuCheckpointProcessCheckpoint", self.cu.cuCheckpointProcessCheckpoint(pid, ctypes.byref(PlainArgs())))

    def restore(self, pid: int, pairs: list[tuple[str, str]] | None = None) -> None:
        args = RestoreArgs()
        keep = None
        pairs = [(a, b) for a, b in (pairs or []) if a != b]
        if pairs:
            keep = (GpuPair * len(pairs))()
            for i, (old, new) in enumerate(pairs):
                ctypes.memmove(keep[i].oldUuid.bytes, uuid_bytes(old), 16)
                ctypes.memmove(keep[i].newUuid.bytes, uuid_bytes(new), 16)
            args.gpuPairs = ctypes.cast(keep, ctypes.POINTER(GpuPair))
            args.gpuPairsCount = len(pairs)
        self._check("cuCheckpointProcessRestore", self.cu.cuCheckpointProcessRestore(pid, ctypes.byref(args)))

    def unlock(self, pid: int) -> None:
        self._check("cuCheckpointProcessUnlock", self.cu.cuCheckpointProcessUnlock(pid, ctypes.byref(PlainArgs())))


class NvmlMemory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


class NvmlProcessInfo(ctypes.Structure):  # nvmlProcessInfo_v2 / v3 (same layout)
    _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong),
                ("gpuInstanceId", ctypes.c_uint), ("computeInstanceId", ctypes.c_uint)]


class Nvml:
    def __init__(self, lib: str = "libnvidia-ml.so.1"):
        try:
            self.n = ctypes.CDLL(lib)
        except OSError as e:
            raise Unsupported(f"no NVML ({lib}: {e})") from e
        rc = self.n.nvmlInit_v2()
        if rc != 0:
            raise Unsupported(f"nvmlInit failed ({rc}): no NVIDIA GPU or driver")

    def gpus(self) -> list[dict]:
        count = ctypes.c_uint()
        self.n.nvmlDeviceGetCount_v2(ctypes.byref(count))
        out = []
        for i in range(count.value):
            h = ctypes.c_void_p()
            if self.n.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h)) != 0:
                continue
            uuid = ctypes.create_string_buffer(96)
            name = ctypes.create_string_buffer(96)
            mem = NvmlMemory()
            self.n.nvmlDeviceGetUUID(h, uuid, 96)
            self.n.nvmlDeviceGetName(h, name, 96)
            self.n.nvmlDeviceGetMemoryInfo(h, ctypes.byref(mem))
            g = {"index": i, "uuid": uuid.value.decode(), "name": name.value.decode(),
                 "freeBytes": mem.free, "totalBytes": mem.total, "usedBytes": mem.used, "_h": h}
            # /dev/nvidia<minor>: how a container without the device plugin's env has its GPUs.
            minor = ctypes.c_uint()
            if self.n.nvmlDeviceGetMinorNumber(h, ctypes.byref(minor)) == 0:
                g["minor"] = minor.value
            out.append(g)
        return out

    def usage(self, pid: int) -> dict[str, int]:
        """GPU memory `pid` holds, per GPU uuid."""
        used: dict[str, int] = {}
        fn = getattr(self.n, "nvmlDeviceGetComputeRunningProcesses_v3", None) or self.n.nvmlDeviceGetComputeRunningProcesses_v2
        for g in self.gpus():
            n = ctypes.c_uint(0)
            buf = (NvmlProcessInfo * 64)()
            n.value = 64
            if fn(g["_h"], ctypes.byref(n), buf) != 0:
                continue
            for k in range(n.value):
                if buf[k].pid == pid:
                    used[g["uuid"]] = used.get(g["uuid"], 0) + int(buf[k].usedGpuMemory)
        return used


def public(g: dict) -> dict:
    return {k: v for k, v in g.items() if not k.startswith("_")}


def check_free(nvml: Nvml, need: int, uuids: list[str]) -> list[dict]:
    """Raise unless each GPU in `uuids` has at least `need` bytes free (one figure per GPU)."""
    gpus = {g["uuid"]: g for g in nvml.gpus()}
    out = []
    for u in uuids:
        g = gpus.get(u)
        if g is None:
            raise RuntimeError(f"GPU {u} is not on this node (have {', '.join(gpus) or 'none'})")
        out.append(public(g))
        if g["freeBytes"] < need:
            raise RuntimeError(
                f"GPU {g['index']} ({u}) has {g['freeBytes'] / 2**30:.2f} GiB free, the checkpoint needs "
                f"{need / 2**30:.2f} GiB: refusing to restore (a CUDA restore that runs out of memory can hang the process for good)")
    return out


def suspend(drv: Driver, pid: int, timeout_ms: int = 0) -> dict:
    t0 = time.perf_counter()
    before = drv.state(pid)
    if before == "running":
        drv.lock(pid, timeout_ms)
    t1 = time.perf_counter()
    if drv.state(pid) == "locked":
        drv.checkpoint(pid)
    t2 = time.perf_counter()
    return {"ok": True, "pid": pid, "before": before, "state": drv.state(pid), "lockSeconds": t1 - t0, "checkpointSeconds": t2 - t1}


def resume(drv: Driver, pid: int, pairs: list[tuple[str, str]] | None = None) -> dict:
    t0 = time.perf_counter()
    before = drv.state(pid)
    if before == "checkpointed":
        drv.restore(pid, pairs)
    t1 = time.perf_counter()
    if drv.state(pid) == "locked":
        drv.unlock(pid)
    t2 = time.perf_counter()
    return {"ok": True, "pid": pid, "before": before, "state": drv.state(pid), "restoreSeconds": t1 - t0, "unlockSeconds": t2 - t1}


def _tree_rows(drv: Driver, pids: list[int], skip_running: bool) -> tuple[list[dict], list[dict]]:
    """One row per pid (skipped: no CUDA, or already running when `skip_running`), and
    the rows of the processes to act on."""
    rows: list[dict] = []
    todo: list[dict] = []
    for pid in pids:
        try:
            st = drv.state(pid)
        except CudaError as e:
            rows.append({"pid": pid, "skipped": True, "why": str(e)})
            continue
        if skip_running and st == "running":
            rows.append({"pid": pid, "skipped": True, "why": "already running"})
            continue
        row = {"ok": True, "pid": pid, "before": st}
        rows.append(row)
        todo.append(row)
    return rows, todo


def _each(drv: Driver, todo: list[dict], when: str, act, timing: str) -> None:
    """`act(pid)` for every row whose process is in state `when`, timed into row[timing]."""
    for row in todo:
        t0 = time.perf_counter()
        if drv.state(row["pid"]) == when:
            act(row["pid"])
        row[timing] = time.perf_counter() - t0
        row["state"] = drv.state(row["pid"])


def suspend_tree(drv: Driver, pids: list[int], timeout_ms: int = 0) -> list[dict]:
    """Lock every CUDA process of `pids`, then checkpoint each (others are reported as
    skipped). All are locked before any is checkpointed: the processes of a
    tensor-parallel worker wait on each other in collectives, so none may still be
    running while another's GPU state is taken. On a failure every one gets its GPU
    back (restored, then unlocked) before raising."""
    rows, todo = _tree_rows(drv, pids, skip_running=False)
    for row in todo:
        row["initial"] = row["before"]
    try:
        _each(drv, todo, "running", lambda pid: drv.lock(pid, timeout_ms), "lockSeconds")
        _each(drv, todo, "locked", drv.checkpoint, "checkpointSeconds")
    except Exception:
        _give_back(drv, [r["pid"] for r in todo])
        raise
    return rows


def _give_back(drv: Driver, pids: list[int]) -> None:
    """Best effort after a failed suspend: restore what was checkpointed, then unlock."""
    for when, act in (("checkpointed", drv.restore), ("locked", drv.unlock)):
        for pid in pids:
            try:
                if drv.state(pid) == when:
                    act(pid)
            except Exception:  # noqa: BLE001
                pass


def resume_tree(drv: Driver, pids: list[int], pairs: list[tuple[str, str]] | None = None) -> list[dict]:
    """Restore every checkpointed process of `pids`, then unlock each: none runs again
    until all have their GPU state back (a collective would wait on one still restoring)."""
    rows, todo = _tree_rows(drv, pids, skip_running=True)
    _each(drv, todo, "checkpointed", lambda pid: drv.restore(pid, pairs), "restoreSeconds")
    _each(drv, todo, "locked", drv.unlock, "unlockSeconds")
    return rows


def serve(inp=sys.stdin, out=sys.stdout) -> int:
    """JSON lines in, JSON lines out: the engine starts this early (Python start-up,
    cuInit and NVML init overlap CRIU's work) and sends requests when it needs them.
    Request: {"id": n, "op": "probe"|"gpus"|"usage"|"suspend"|"resume"|"state", ...}."""
    drv: Driver | None = None
    nvml: Nvml | None = None
    init_error: str | None = None
    try:
        drv = Driver()
        nvml = Nvml()
    except Exception as e:  # noqa: BLE001
        init_error = str(e)
    out.write(json.dumps({"id": 0, "ok": init_error is None, "ready": True, "error": init_error,
                          "unsupported": init_error is not None}) + "\n")
    out.flush()
    for line in inp:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            continue
        rid = req.get("id")
        try:
            if drv is None or nvml is None:
                raise Unsupported(init_error or "CUDA is not available")
            op = req.get("op")
            t0 = time.perf_counter()
            if op == "probe":
                res = {"driverVersion": drv.version(), "gpus": [public(g) for g in nvml.gpus()]}
            elif op == "gpus":
                res = {"gpus": [public(g) for g in nvml.gpus()]}
            elif op == "usage":
                total: dict[str, int] = {}
                for pid in req["pids"]:
                    for u, b in nvml.usage(int(pid)).items():
                        total[u] = total.get(u, 0) + b
                res = {"usedBytes": total}
            elif op == "state":
                res = {"states": {str(p): drv.state(int(p)) for p in req["pids"]}}
            elif op == "suspend":
                res = {"results": suspend_tree(drv, [int(p) for p in req["pids"]], int(req.get("timeoutMs", 0)))}
            elif op == "resume":
                if req.get("needBytes") is not None:
                    check_free(nvml, int(req["needBytes"]), list(req.get("gpus", [])))
                res = {"results": resume_tree(drv, [int(p) for p in req["pids"]], [tuple(x) for x in req.get("pairs", [])])}
            else:
                raise ValueError(f"unknown op {op}")
            res.update({"id": rid, "ok": True, "seconds": time.perf_counter() - t0})
        except Exception as e:  # noqa: BLE001
            res = {"id": rid, "ok": False, "error": str(e), "unsupported": isinstance(e, Unsupported)}
        out.write(json.dumps(res) + "\n")
        out.flush()
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    opts: dict[str, list[str]] = {}
    pos: list[str] = []
    i = 0
    while i < len(rest):
        if rest[i].startswith("--"):
            opts.setdefault(rest[i][2:], []).append(rest[i + 1] if i + 1 < len(rest) else "")
            i += 2
        else:
            pos.append(rest[i])
            i += 1

    def emit(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    if cmd == "serve":
        return serve()
    try:
        if cmd == "gpus":
            emit({"ok": True, "gpus": [public(g) for g in Nvml().gpus()]})
            return 0
        if cmd == "probe":
            drv = Driver()
            gpus = [public(g) for g in Nvml().gpus()]
            if not gpus:
                raise Unsupported("the driver sees no GPU")
            emit({"ok": True, "driverVersion": drv.version(), "gpus": gpus,
                  "remap": hasattr(drv.cu, "cuCheckpointProcessGetRestoreThreadId")})
            return 0
        if not pos:
            emit({"ok": False, "error": f"{cmd} needs a pid"})
            return 2
        pid = int(pos[0])
        if cmd == "usage":
            emit({"ok": True, "pid": pid, "usedBytes": Nvml().usage(pid)})
            return 0
        drv = Driver()
        if cmd == "state":
            emit({"ok": True, "pid": pid, "state": drv.state(pid), "restoreTid": drv.restore_tid(pid)})
        elif cmd == "suspend":
            emit(suspend(drv, pid, int(opts.get("timeout-ms", ["0"])[0])))
        elif cmd == "resume":
            pairs = [tuple(m.split("=", 1)) for m in opts.get("map", [])]
            checked = None
            if "need-bytes" in opts:
                checked = check_free(Nvml(), int(opts["need-bytes"][0]), opts.get("gpu", []))
            r = resume(drv, pid, pairs)  # type: ignore[arg-type]
            if checked is not None:
                r["gpus"] = checked
            emit(r)
        elif cmd == "lock":
            drv.lock(pid, int(opts.get("timeout-ms", ["0"])[0]))
            emit({"ok": True, "pid": pid, "state": drv.state(pid)})
        elif cmd == "checkpoint":
            drv.checkpoint(pid)
            emit({"ok": True, "pid": pid, "state": drv.state(pid)})
        elif cmd == "restore":
            drv.restore(pid, [tuple(m.split("=", 1)) for m in opts.get("map", [])])  # type: ignore[misc]
            emit({"ok": True, "pid": pid, "state": drv.state(pid)})
        elif cmd == "unlock":
            drv.unlock(pid)
            emit({"ok": True, "pid": pid, "state": drv.state(pid)})
        else:
            emit({"ok": False, "error": f"unknown command {cmd}"})
            return 2
        return 0
    except Unsupported as e:
        emit({"ok": False, "unsupported": True, "error": str(e)})
        return 3
    except Exception as e:  # noqa: BLE001
        emit({"ok": False, "error": str(e)})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""One table and one results.json from a full_run.sh run: the engine rows of llm_bench.py
(OUT/engine/results.json) and the CLI rows of cli_flow.mjs (OUT/cli/cli-results.json),
with the machine's floors of that same run applied to every row.

    python3 bench/gpu/combine.py OUT

Every row has model, gib, coldSeconds, restoreSeconds, path (engine or cli), criu (stock or
parallel), floorSeconds and outputEqual, and the parts (CRIU, CUDA), the page cache
(warm or dropped), the speed-up over the row's own cold start and the ratio to the floor.
floorSeconds: the checkpoint's images read once at the best page-cache rate measured
(8 readers; for a restore with the page cache dropped, at the storage rate) plus the
checkpointed GPU memory copied to the device at the pinned rate.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

GiB = 2**30


# Fields of a combined row taken as they are from either path's row.
SHARED = ("compile", "coldSeconds", "compileSeconds", "checkpointSeconds", "cudaCheckpointSeconds", "criuDumpSeconds",
          "imageGiB", "restoreSeconds", "criuRestoreSeconds", "cudaRestoreSeconds", "outputEqual", "error")


def floors(bw: dict, image_bytes: float | None, gpu_bytes: float | None, warm: bool) -> dict:
    pc = bw.get("pageCacheReadParallelGBps") or bw.get("pageCacheReadGBps")
    sto = bw.get("storageReadParallelGBps") or bw.get("storageReadGBps")
    pin, pag = bw.get("h2dPinnedGBps"), bw.get("h2dPageableGBps")
    rate = pc if warm else sto
    if not (rate and pin and image_bytes and gpu_bytes):
        return {"floorSeconds": None}
    return {"floorSeconds": image_bytes / (rate * 1e9) + gpu_bytes / (pin * 1e9),
            "floorImagesSeconds": image_bytes / (rate * 1e9), "floorGpuPinnedSeconds": gpu_bytes / (pin * 1e9),
            "gpuPageableSeconds": gpu_bytes / (pag * 1e9) if pag else None}


def rows(out: Path) -> tuple[list[dict], dict, dict]:
    eng = json.loads((out / "engine" / "results.json").read_text()) if (out / "engine" / "results.json").exists() else {}
    cli = json.loads((out / "cli" / "cli-results.json").read_text()) if (out / "cli" / "cli-results.json").exists() else {}
    bw = eng.get("bandwidths", {})
    res: list[dict] = []
    preset = (eng.get("presets") or [{}])[-1]
    def row(r: dict, path: str, variant: str, warm: bool, gpu_gib, extra: tuple[str, ...]) -> dict:
        """One combined row: the fields both paths share, copied from the path's own row, then its own."""
        out = {"model": r.get("model"), "gib": r.get("gib"), "path": path, "criu": r.get("criu"), "thp": r.get("thp"),
               "pageCache": "warm" if warm else "dropped", "variant": variant, "gpuGiB": gpu_gib}
        out.update({k: r.get(k) for k in SHARED + extra})
        out.update(floors(bw, (r.get("imageGiB") or 0) * GiB, (gpu_gib or 0) * GiB, warm))
        return out

    for r in eng.get("rows", []):
        res.append(row(r, "engine", r["variant"], r.get("pageCache", "warm") == "warm", r.get("gpuUsedGiB"),
                       ("coldColdCacheSeconds", "coldWarmCompileCacheSeconds", "cudaRestoreCpu")))
    for r in cli.get("rows", []):
        res.append(row(r, "cli", f"restore --{'pod' if r.get('restore') == 'in-place' else 'manifest'}",
                       "cold-cache" not in r.get("restore", ""), r.get("gpuGiB"), ("restoreCliSeconds",)))
    for row in res:
        c, rs, fl = row.get("coldSeconds"), row.get("restoreSeconds"), row.get("floorSeconds")
        row["speedup"] = c / rs if c and rs else None
        row["floorRatio"] = rs / fl if rs and fl else None
    return res, bw, {"engine": {k: preset.get(k) for k in ("coldSeconds", "coldColdCacheSeconds", "coldWarmCompileCacheSeconds",
                                                          "coldOutputEqual", "coldParts")},
                     "cli": {"ok": cli.get("ok"), "error": cli.get("error"), "seconds": cli.get("seconds")},
                     "environment": eng.get("environment"), "machine": cli.get("machine")}


def table(res: list[dict], bw: dict) -> str:
    f = lambda x, n=2: "n/a" if x is None else f"{x:.{n}f}"  # noqa: E731
    lines = ["| model | path | criu | THP | page cache | weights GiB | cold start (s) | checkpoint (s): CUDA + CRIU | image GiB | restore (s): CRIU + CUDA | x faster than cold | floor (s) | x floor | output equal |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in res:
        if r.get("error"):
            lines.append(f"| {r['model']} | {r['path']} ({r['variant']}) | {r['criu']} | {r['thp']} | {r['pageCache']} | | | | | FAILED: {str(r['error'])[:100]} | | | | NO |")
            continue
        lines.append(f"| {r['model']} | {r['path']} ({r['variant']}) | {r['criu']} | {r['thp']} | {r['pageCache']} | {f(r['gib'])} | {f(r['coldSeconds'])} "
                     f"| {f(r['checkpointSeconds'])}: {f(r['cudaCheckpointSeconds'])} + {f(r['criuDumpSeconds'])} | {f(r['imageGiB'])} "
                     f"| {f(r['restoreSeconds'])}: {f(r['criuRestoreSeconds'])} + {f(r['cudaRestoreSeconds'])} | {f(r['speedup'], 1)} "
                     f"| {f(r['floorSeconds'])} | {f(r['floorRatio'])} | {'yes' if r['outputEqual'] else 'NO'} |")
    lines += ["", "Floors (GB/s): " + ", ".join(f"{k} {v:.2f}" for k, v in bw.items() if isinstance(v, float))]
    return "\n".join(lines)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "full-run-out")
    res, bw, extra = rows(out)
    (out / "results.json").write_text(json.dumps({"rows": res, "bandwidths": bw, **extra}, indent=1) + "\n")
    t = table(res, bw)
    e = extra["engine"]
    if e.get("coldSeconds"):
        t += (f"\n\nEngine cold starts: page cache dropped {f2(e.get('coldColdCacheSeconds'))} s, warm {f2(e.get('coldSeconds'))} s "
              + (f"(each with an empty compile cache), page cache and compile cache warm {f2(e.get('coldWarmCompileCacheSeconds'))} s; "
                 if any(r.get("compile") for r in res) else "(no torch.compile); ")
              + f"the first two answered alike: {e.get('coldOutputEqual')}")
    (out / "table.md").write_text(t + "\n")
    print(t)
    return 0 if res and all(r.get("outputEqual") for r in res) else 1


def f2(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    sys.exit(main())

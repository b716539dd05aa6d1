#!/usr/bin/env python3
"""A real LLM inference worker for snapshotctl's GPU benchmark: Qwen3-8B's architecture
and size (transformers' Qwen3 configuration, 36 layers, 16.4 GB of bf16 weights) with
weights made once from a fixed seed (the GPU machine has no network, so no download).

  llm_worker.py gen   --data DIR [--preset qwen3-8b]   write the safetensors shards once
  llm_worker.py serve --data DIR --ready FILE --out FILE [--log FILE] [--port 18080]
  llm_worker.py check --data DIR                        our decode step against HF's forward

`gen` (not part of cold start): the model is built on the meta device from the config,
and every tensor of its state dict is drawn from a torch.Generator seeded from the
tensor's name (std 0.02; norm weights 1 + 0.05 N(0,1)), on the GPU, and written as
~4.5 GB safetensors shards with `model.safetensors.index.json` and `config.json`, the
layout of a Hugging Face checkpoint. A marker file says the shards are complete.

`serve` is the worker; its cold start (process start -> ready file) is all real work:
  1. imports (torch, transformers, safetensors)                    -> importSeconds
  2. CUDA context                                                  -> contextSeconds
  3. config.json read, model built on the meta device, parameters
     allocated on the GPU (to_empty)                               -> buildSeconds
  4. shards read as servers read them (index.json, safe_open on the
     CPU, each tensor copied into its GPU parameter, pageable)     -> loadSeconds
  5. KV cache pre-allocated (static, --max-batch x --max-seq)      -> kvSeconds
  6. warm-up: an eager profiling prefill; with --compile, torch.compile
     (inductor) of the decode step's layer (shared by the 36 layers, as
     servers compile piecewise) for every batch size, its compile
     workers shut down after (no child process is left for CRIU)   -> compileSeconds
     then CUDA-graph capture of the (compiled) decode step for each
     batch size in --graph-batches               -> warmupSeconds (compile included)
  7. the fixed prompts answered once, the ready file written.
--compile's caches (inductor's and Triton's) go to --compile-cache DIR, by default a
new empty directory under DATA/compile-cache/ (what a new pod has: no cache). They stay
after the ready file: Triton's kernel launchers are shared objects the process maps, so
a restore needs them at the same path.

The model is transformers' Qwen3ForCausalLM (its modules hold the parameters); prefill
and the decode step are written here over those parameters (RMSNorm, rotary embedding,
q/k norms, grouped-query attention over the static KV cache, SwiGLU), so the decode step
is capturable in a CUDA graph. `check` compares them with HF's own forward.

Serving, single-threaded, on 127.0.0.1:--port:
  POST /generate {"prompt_ids": [...], "max_new_tokens": N} -> {"tokens": [...]}
       (or {"prompts": [[...], ...]} -> {"tokens": [[...], ...]}: one batch, the
       smallest captured graph that holds it)
  GET  /health -> {"ok": true, "pid": ...}
and, as bench/gpu/worker.py, SIGUSR2: the fixed prompts are answered and `--out` is
written (JSON, atomic rename): the greedy tokens, `forwardSha256` (of the tokens),
`logitsSha256` (of the last step's logits) and `weightsSha256` (of per-tensor sums of
the GPU-resident weights). SIGTERM and SIGUSR1 (the snapshot agent's
"checkpointed, exit") end it with exit 0. After the ready file it holds no regular
file open (stdio is /dev/null, the log is opened per line), no mapping of the shards,
one listening socket and one pipe (the signal wake-up fd), so CRIU can dump and
restore it any number of times.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sys
import time
import zlib

T_START = time.perf_counter()
WALL_START = time.time()
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# No AMX on the CPU side: a process restored by CRIU 4.1.1 that had run AMX code (torch's
# CPU bf16 matmul and SDPA on an AMX CPU) dies of SIGILL at its next AMX instruction
# (seen here: the AMX state permission, arch_prctl ARCH_REQ_XCOMP_PERM, does not come
# back). The GPU path runs no CPU matmuls; these keep CPU matmuls off AMX (CPU SDPA
# ignores them, so --cpu prefill avoids SDPA) and CPU tests restorable.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

PRESETS = {
    # Qwen3-8B's config.json (Qwen/Qwen3-8B), bf16
    "qwen3-8b": dict(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                     rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=False, bos_token_id=151643,
                     eos_token_id=151645),
}
PRESETS["qwen3-8b-2l"] = dict(PRESETS["qwen3-8b"], num_hidden_layers=2)  # GPU smoke test: same widths
PRESETS["tiny"] = dict(PRESETS["qwen3-8b"], vocab_size=1024, hidden_size=256, intermediate_size=512,  # CPU tests
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                       bos_token_id=None, eos_token_id=None)

SHARD_BYTES = int(4.5e9)
MARKER = "snapbench-weights.json"
SEED = 20251203
STD = 0.02


def log(path: str, msg: str) -> None:
    if path:
        with open(path, "a") as f:
            f.write(f"{time.time():.3f} [{os.getpid()}] {msg}\n")


def write_json_atomic(path: str, obj) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def make_config(preset: str):
    from transformers import Qwen3Config
    p = dict(PRESETS[preset])
    theta = p.pop("rope_theta")
    cfg = Qwen3Config(**p, rope_parameters={"rope_type": "default", "rope_theta": theta}, hidden_act="silu",
                      attention_bias=False, use_sliding_window=False, max_window_layers=p["num_hidden_layers"],
                      dtype="bfloat16")
    return cfg


def rope_theta(cfg) -> float:
    rp = getattr(cfg, "rope_parameters", None) or {}
    return float(rp.get("rope_theta") or getattr(cfg, "rope_theta"))


def meta_model(cfg):
    """transformers' Qwen3ForCausalLM on the meta device, bf16 parameters (buffers as HF makes them)."""
    import torch
    from transformers import Qwen3ForCausalLM
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("meta"):
            model = Qwen3ForCausalLM(cfg)
    finally:
        torch.set_default_dtype(old)
    return model.eval()


def tensor_seed(name: str) -> int:
    return (zlib.crc32(name.encode()) ^ SEED) & 0x7FFFFFFF


# ---------------------------------------------------------------- gen


def cmd_gen(a) -> int:
    import torch
    from safetensors.torch import save_file
    d = os.path.join(a.data, a.preset)
    os.makedirs(d, exist_ok=True)
    cfg = make_config(a.preset)
    model = meta_model(cfg)
    names = [(n, tuple(p.shape)) for n, p in model.state_dict().items()]
    total = sum(2 * _numel(s) for _, s in names)
    want = {"preset": a.preset, "seed": SEED, "std": STD, "tensors": len(names), "bytes": total}
    mpath = os.path.join(d, MARKER)
    if os.path.exists(mpath):
        try:
            have = json.load(open(mpath))
            if all(have.get(k) == v for k, v in want.items()):
                print(json.dumps({"gen": "present", **have}))
                return 0
        except (OSError, ValueError):
            pass
        os.unlink(mpath)
    t0 = time.perf_counter()
    shards, cur, cur_bytes = [], [], 0
    for n, s in names:
        b = 2 * _numel(s)
        if cur and cur_bytes + b > SHARD_BYTES:
            shards.append(cur)
            cur, cur_bytes = [], 0
        cur.append((n, s))
        cur_bytes += b
    if cur:
        shards.append(cur)
    dev = torch.device("cuda", 0) if torch.cuda.is_available() and not a.cpu else torch.device("cpu")
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        tensors = {}
        for n, s in shard:
            g = torch.Generator(device=dev)
            g.manual_seed(tensor_seed(n))
            t = torch.randn(s, generator=g, device=dev, dtype=torch.float32)
            t = (1.0 + 0.05 * t) if len(s) == 1 else t * STD
            tensors[n] = t.to(torch.bfloat16).cpu()
            weight_map[n] = fname
        save_file(tensors, os.path.join(d, fname), metadata={"format": "pt"})
        del tensors
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    cfg.to_json_file(os.path.join(d, "config.json"))
    write_json_atomic(mpath, {**want, "shards": len(shards), "seconds": time.perf_counter() - t0})
    print(json.dumps({"gen": "written", **want, "shards": len(shards), "seconds": time.perf_counter() - t0}))
    return 0


def _numel(s) -> int:
    n = 1
    for x in s:
        n *= x
    return n


# ---------------------------------------------------------------- the model


class Engine:
    """Prefill and a capturable decode step over a transformers Qwen3ForCausalLM's parameters."""

    def __init__(self, model, cfg, dev, max_batch: int, max_seq: int):
        import torch
        self.torch = torch
        self.cfg, self.dev = cfg, dev
        self.nh, self.nkv = cfg.num_attention_heads, cfg.num_key_value_heads
        self.hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.nh
        self.groups = self.nh // self.nkv
        self.eps = cfg.rms_norm_eps
        self.scale = self.hd ** -0.5
        self.max_batch, self.max_seq = max_batch, max_seq
        m = model.model
        self.E = m.embed_tokens.weight
        self.norm = m.norm.weight
        self.lm = model.lm_head.weight
        self.layers = []
        for L in m.layers:
            at, mlp = L.self_attn, L.mlp
            self.layers.append((L.input_layernorm.weight, at.q_proj.weight, at.k_proj.weight, at.v_proj.weight,
                                at.q_norm.weight, at.k_norm.weight, at.o_proj.weight, L.post_attention_layernorm.weight,
                                mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight))
        # rotary tables, computed as HF's Qwen3RotaryEmbedding does (float32, then bf16)
        inv = 1.0 / (rope_theta(cfg) ** (torch.arange(0, self.hd, 2, dtype=torch.int64).to(dev, torch.float32) / self.hd))
        freqs = torch.arange(max_seq, device=dev, dtype=torch.float32)[:, None] * inv[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos = emb.cos().to(torch.bfloat16)
        self.sin = emb.sin().to(torch.bfloat16)
        self.inv_freq = inv
        self.ar = torch.arange(max_seq, device=dev)
        self.rows = torch.arange(max_batch, device=dev)
        self.kc = self.vc = None
        self.graphs: dict[int, tuple] = {}
        self.last_logits = None
        self.layer_fn = self.layer

    def alloc_kv(self) -> int:
        torch = self.torch
        shape = (len(self.layers), self.max_batch, self.nkv, self.max_seq, self.hd)
        self.kc = torch.zeros(shape, dtype=torch.bfloat16, device=self.dev)
        self.vc = torch.zeros(shape, dtype=torch.bfloat16, device=self.dev)
        return 2 * self.kc.numel() * 2

    def rms(self, x, w):
        torch = self.torch
        xf = x.to(torch.float32)
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * xf.to(x.dtype)

    def rot(self, x):
        """HF's rotate_half: (x1, x2) -> (-x2, x1) over the last dimension."""
        h = x.shape[-1] // 2
        return self.torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    def prefill(self, row: int, tokens: list[int], all_logits: bool = False):
        """Eager prefill of one sequence into KV-cache row `row`; returns its logits (last or all positions)."""
        torch = self.torch
        F = torch.nn.functional
        n = len(tokens)
        ids = torch.tensor([tokens], dtype=torch.long, device=self.dev)
        x = F.embedding(ids, self.E)
        cos, sin = self.cos[:n][None, None], self.sin[:n][None, None]
        for li, (ln1, wq, wk, wv, qn, kn, wo, ln2, wg, wu, wd) in enumerate(self.layers):
            h = self.rms(x, ln1)
            q = self.rms(F.linear(h, wq).view(1, n, self.nh, self.hd), qn).transpose(1, 2)
            k = self.rms(F.linear(h, wk).view(1, n, self.nkv, self.hd), kn).transpose(1, 2)
            v = F.linear(h, wv).view(1, n, self.nkv, self.hd).transpose(1, 2)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            if self.kc is not None:
                self.kc[li, row, :, :n] = k[0]
                self.vc[li, row, :, :n] = v[0]
            kr = k.repeat_interleave(self.groups, dim=1)
            vr = v.repeat_interleave(self.groups, dim=1)
            if self.dev.type == "cuda":
                att = F.scaled_dot_product_attention(q, kr, vr, is_causal=True, scale=self.scale)
            else:  # CPU tests: torch's CPU bf16 SDPA uses AMX, which CRIU does not restore (see the top)
                sc = torch.matmul(q, kr.transpose(-1, -2)) * self.scale
                sc = sc + torch.full((n, n), float("-inf"), device=self.dev).triu(1).to(sc.dtype)
                att = torch.matmul(torch.softmax(sc, dim=-1, dtype=torch.float32).to(q.dtype), vr)
            x = x + F.linear(att.transpose(1, 2).reshape(1, n, self.nh * self.hd), wo)
            h = self.rms(x, ln2)
            x = x + F.linear(F.silu(F.linear(h, wg)) * F.linear(h, wu), wd)
        x = self.rms(x if all_logits else x[:, -1:], self.norm)
        return F.linear(x, self.lm)[0]

    def step(self, ids, pos):
        """One decode step for a batch: ids (b,), pos (b,) -> logits (b, vocab). No host sync: capturable."""
        torch = self.torch
        F = torch.nn.functional
        b = ids.shape[0]
        rows = self.rows[:b]
        x = F.embedding(ids, self.E)
        cos, sin = self.cos[pos][:, None, :], self.sin[pos][:, None, :]
        mask = torch.where(self.ar[None, :] <= pos[:, None], 0.0, float("-inf")).to(torch.bfloat16)[:, None, None, :]
        for li, w in enumerate(self.layers):
            x = self.layer_fn(x, cos, sin, mask, rows, pos, self.kc[li], self.vc[li], *w)
        return F.linear(self.rms(x, self.norm), self.lm)

    def layer(self, x, cos, sin, mask, rows, pos, kc, vc, ln1, wq, wk, wv, qn, kn, wo, ln2, wg, wu, wd):
        """One decoder layer of the decode step (its KV-cache slots written in place). Every
        layer has the same shapes, so --compile compiles this once per batch-size class and
        the 36 layers share the code, as servers compile a model piecewise."""
        torch = self.torch
        F = torch.nn.functional
        b = x.shape[0]
        h = self.rms(x, ln1)
        q = self.rms(F.linear(h, wq).view(b, self.nh, self.hd), qn)
        k = self.rms(F.linear(h, wk).view(b, self.nkv, self.hd), kn)
        v = F.linear(h, wv).view(b, self.nkv, self.hd)
        q = q * cos + self.rot(q) * sin
        k = k * cos + self.rot(k) * sin
        kc[rows, :, pos] = k
        vc[rows, :, pos] = v
        s = torch.matmul(q.view(b, self.nkv, self.groups, self.hd), kc[:b].transpose(-1, -2)) * self.scale + mask
        p = torch.softmax(s, dim=-1, dtype=torch.float32).to(torch.bfloat16)
        att = torch.matmul(p, vc[:b]).reshape(b, self.nh * self.hd)
        x = x + F.linear(att, wo)
        h = self.rms(x, ln2)
        return x + F.linear(F.silu(F.linear(h, wg)) * F.linear(h, wu), wd)

    def step_greedy(self, ids, pos):
        """step, then the greedy token becomes the next input and the positions advance (all on the GPU)."""
        logits = self.step(ids, pos)
        ids.copy_(self.torch.argmax(logits, dim=-1))
        pos.add_(1)
        return logits

    def compile(self, sizes: list[int]) -> dict:
        """torch.compile (inductor, default mode: the CUDA graphs are ours) of the decode
        step's layer, as servers compile their forward pass piecewise: run here for every
        batch size, so torch compiles what it needs (the first size static, then the batch
        dimension dynamic, and size 1 apart as torch specializes it); then the compile
        workers are shut down, so the process has no children when it is ready."""
        torch = self.torch
        self.layer_fn = torch.compile(self.layer, dynamic=None)
        t0 = time.perf_counter()
        for bs in sorted(set(sizes), reverse=True):
            ids = torch.zeros(bs, dtype=torch.long, device=self.dev)
            pos = torch.zeros(bs, dtype=torch.long, device=self.dev)
            self.step(ids, pos)
        torch.cuda.synchronize()
        compiled = time.perf_counter() - t0
        from torch._dynamo.utils import counters
        graphs = int(counters["stats"]["unique_graphs"])
        workers = children()
        try:
            from torch._inductor.async_compile import shutdown_compile_workers
            shutdown_compile_workers()
        except ImportError:
            pass
        t1 = time.perf_counter()
        while children() and time.perf_counter() - t1 < 30:
            time.sleep(0.05)
        left = children()
        if left:
            raise RuntimeError(f"torch.compile left child processes {left}: CRIU would have to take them along")
        return {"compileSeconds": compiled, "compileWorkers": len(workers), "compiledGraphs": graphs,
                "compileShutdownSeconds": time.perf_counter() - t1}

    def capture(self, sizes: list[int]) -> None:
        torch = self.torch
        pool = torch.cuda.graph_pool_handle()
        for bs in sorted(set(sizes), reverse=True):  # largest first: the others fit in its pool
            assert bs <= self.max_batch
            ids = torch.zeros(bs, dtype=torch.long, device=self.dev)
            pos = torch.zeros(bs, dtype=torch.long, device=self.dev)
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(2):
                    self.step_greedy(ids, pos)
            torch.cuda.current_stream().wait_stream(s)
            torch.cuda.synchronize()
            ids.zero_()
            pos.zero_()
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g, pool=pool):
                logits = self.step_greedy(ids, pos)
            torch.cuda.synchronize()
            self.graphs[bs] = (g, ids, pos, logits)

    def generate(self, prompts: list[list[int]], max_new: int) -> list[list[int]]:
        torch = self.torch
        b = len(prompts)
        if b < 1 or b > self.max_batch:
            raise ValueError(f"batch of {b}: 1..{self.max_batch} prompts")
        for p in prompts:
            if not p or len(p) + max_new > self.max_seq:
                raise ValueError(f"prompt of {len(p)} tokens + {max_new} new: 1..{self.max_seq} in all")
            if min(p) < 0 or max(p) >= self.cfg.vocab_size:
                raise ValueError("token id out of range")
        if max_new < 1:
            return [[] for _ in prompts]
        firsts = []
        for r, p in enumerate(prompts):
            lg = self.prefill(r, p)
            firsts.append(torch.argmax(lg[-1], dim=-1))
            self.last_logits = lg[-1:]
        fits = [bs for bs in self.graphs if bs >= b]
        if fits:
            bs = min(fits)
            g, ids, pos, logits = self.graphs[bs]
        else:
            bs, g = b, None
            ids = torch.zeros(b, dtype=torch.long, device=self.dev)
            pos = torch.zeros(b, dtype=torch.long, device=self.dev)
        ids.zero_()
        pos.zero_()
        ids[:b] = torch.stack(firsts)
        pos[:b] = torch.tensor([len(p) for p in prompts], dtype=torch.long, device=self.dev)
        out = torch.empty(max_new, bs, dtype=torch.long, device=self.dev)
        out[0].copy_(ids)
        for t in range(1, max_new):
            if g is not None:
                g.replay()
            else:
                logits = self.step_greedy(ids, pos)
            out[t].copy_(ids)
        if max_new > 1:
            self.last_logits = logits[:b]
        return out[:, :b].t().tolist()


# ---------------------------------------------------------------- loading (cold start)


def fixed_prompts(vocab: int) -> tuple[list[int], list[list[int]]]:
    r = random.Random(1234)
    single = [r.randrange(vocab) for _ in range(32)]
    batch = [[r.randrange(vocab) for _ in range(n)] for n in (17, 40, 25)]
    return single, batch


def load(a, t: dict):
    """Steps 1-5 of the cold start; fills `t` with their times. Returns (torch, cfg, model, engine, dev)."""
    t0 = time.perf_counter()
    import torch
    t["torchImportSeconds"] = time.perf_counter() - t0
    import transformers  # noqa: F401
    from safetensors import safe_open
    t["importSeconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if a.cpu:
        dev = torch.device("cpu")
    else:
        torch.cuda.init()
        dev = torch.device("cuda", 0)
        torch.zeros(1, device=dev)
        torch.cuda.synchronize()
    t["contextSeconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    d = os.path.join(a.data, a.preset)
    from transformers import AutoConfig
    cfg = AutoConfig.from_pretrained(d)
    model = meta_model(cfg)
    model.to_empty(device=dev)
    eng = Engine(model, cfg, dev, a.max_batch, a.max_seq)
    # the one buffer (twice) that is not in the checkpoint: HF's rotary inv_freq
    for n, buf in model.named_buffers():
        if n.endswith("inv_freq"):
            buf.copy_(eng.inv_freq.to(buf.dtype))
    params = dict(model.named_parameters())
    if getattr(cfg, "tie_word_embeddings", False):
        params.pop("lm_head.weight", None)
    if not a.cpu:
        torch.cuda.synchronize()
    t["buildSeconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    files = sorted(set(index["weight_map"].values()))
    loaded, nbytes = set(), 0
    for fn in files:
        with safe_open(os.path.join(d, fn), framework="pt", device="cpu") as f:
            for name in f.keys():
                w = f.get_tensor(name)
                p = params[name]
                if tuple(w.shape) != tuple(p.shape) or w.dtype != p.dtype:
                    raise ValueError(f"{name}: {tuple(w.shape)} {w.dtype} in {fn}, model has {tuple(p.shape)} {p.dtype}")
                with torch.no_grad():
                    p.copy_(w)
                loaded.add(name)
                nbytes += w.numel() * w.element_size()
                del w
    missing = set(params) - loaded
    if missing:
        raise ValueError(f"not in the checkpoint: {sorted(missing)[:5]} ({len(missing)})")
    if not a.cpu:
        torch.cuda.synchronize()
    import gc
    gc.collect()
    t["loadSeconds"] = time.perf_counter() - t0
    t["weightBytes"] = nbytes
    t["shards"] = len(files)

    t0 = time.perf_counter()
    t["kvCacheBytes"] = eng.alloc_kv() if not a.no_kv else 0
    if not a.cpu:
        torch.cuda.synchronize()
    t["kvSeconds"] = time.perf_counter() - t0
    return torch, cfg, model, eng, dev


def weights_sha(torch, model) -> str:
    with torch.no_grad():
        sums = torch.stack([p.sum(dtype=torch.float32) for _, p in model.named_parameters()]).cpu().tolist()
    return hashlib.sha256(repr(sums).encode()).hexdigest()


def answer(torch, cfg, model, eng, max_new: int) -> dict:
    single, batch = fixed_prompts(cfg.vocab_size)
    t0 = time.perf_counter()
    with torch.no_grad():
        a = eng.generate([single], max_new)[0]
        la = eng.last_logits.float().cpu().numpy().tobytes()
        b = eng.generate(batch, max_new // 2)
        lb = eng.last_logits.float().cpu().numpy().tobytes()
    dt = time.perf_counter() - t0
    return {"tokens": a, "batchTokens": b, "prompt": single,
            "forwardSha256": hashlib.sha256(json.dumps([a, b]).encode()).hexdigest(),
            "logitsSha256": hashlib.sha256(la + lb).hexdigest(),
            "weightsSha256": weights_sha(torch, model), "generateSeconds": dt}


def open_files() -> list[str]:
    out = []
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            out.append(f"{fd}:{os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            pass
    return out


def mapped_files(suffix: str) -> list[str]:
    try:
        return sorted({l.split()[-1] for l in open("/proc/self/maps") if l.rstrip().endswith(suffix)})
    except OSError:
        return []


def children() -> list[int]:
    """This process's child processes (every thread's children), from /proc."""
    out = []
    for tid in os.listdir("/proc/self/task"):
        try:
            out += [int(x) for x in open(f"/proc/self/task/{tid}/children").read().split()]
        except OSError:
            pass
    return sorted(set(out))


def signal_state() -> dict:
    """SIGUSR1/SIGUSR2/SIGTERM: the Python-level handler, and per thread whether it blocks them."""
    out: dict = {"handlers": {}, "blockedIn": {}}
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
        h = signal.getsignal(sig)
        out["handlers"][sig.name] = h if isinstance(h, (int, type(None))) else getattr(h, "__qualname__", repr(h))
    for tid in os.listdir("/proc/self/task"):
        try:
            blk = int(next(l for l in open(f"/proc/self/task/{tid}/status") if l.startswith("SigBlk:")).split()[1], 16)
        except (OSError, StopIteration, ValueError):
            continue
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
            if blk & (1 << (sig - 1)):
                out["blockedIn"].setdefault(sig.name, []).append(int(tid))
    return out


def compile_cache(a) -> str:
    """--compile: point inductor's and Triton's caches at --compile-cache (or a new empty
    directory under DATA/compile-cache/) before torch is imported."""
    d = a.compile_cache or os.path.join(a.data, "compile-cache", f"{time.time_ns()}-{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(d, "inductor")
    os.environ["TRITON_CACHE_DIR"] = os.path.join(d, "triton")
    os.environ["TRITON_HOME"] = d
    return d


def cmd_serve(a) -> int:
    # SIGUSR2/SIGTERM: Python writes each signal's number to the wake-up pipe, which the
    # serve loop reads (set before loading, so a signal during the cold start waits there)
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    os.set_blocking(wfd, False)
    signal.signal(signal.SIGUSR2, lambda s, f: None)
    signal.signal(signal.SIGTERM, lambda s, f: None)
    # SIGUSR1: the snapshot agent's "checkpointed, exit" (protocol §4): exit 0, so the
    # checkpoint Job completes instead of failing on a death by signal
    def take_signals() -> None:
        for sig in (signal.SIGUSR2, signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, lambda s, f: None)
        signal.set_wakeup_fd(wfd)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR2, signal.SIGTERM, signal.SIGUSR1})

    take_signals()
    t: dict = {}
    if a.compile:
        if a.cpu:
            raise SystemExit("--compile needs the GPU (inductor's CPU code runs AMX, which CRIU does not restore)")
        t["compileCache"] = compile_cache(a)
        t["compileCacheWasEmpty"] = not any(os.scandir(t["compileCache"]))
    torch, cfg, model, eng, dev = load(a, t)

    t0 = time.perf_counter()
    with torch.no_grad():
        # profiling run as servers do: an eager prefill of --profile-tokens (also warms
        # cuBLAS and the attention kernels), then graph capture of the decode step
        n = min(a.profile_tokens, a.max_seq)
        eng.prefill(0, [i % cfg.vocab_size for i in range(n)])
        if not a.cpu:
            torch.cuda.synchronize()
            t["peakAfterProfileBytes"] = torch.cuda.max_memory_allocated()
        sizes = [int(x) for x in a.graph_batches.split(",") if x] if not (a.cpu or a.no_graphs) else []
        if a.compile:
            t.update(eng.compile(sizes or [1]))
        if sizes:
            eng.capture(sizes)
    if not a.cpu:
        torch.cuda.synchronize()
    t["warmupSeconds"] = time.perf_counter() - t0
    t["graphBatches"] = sorted(eng.graphs)
    # what the libraries did to our signals while loading and compiling (put back)
    t["signalsBeforeReady"] = signal_state()
    take_signals()

    first = answer(torch, cfg, model, eng, a.answer_tokens)

    import http.server
    import select

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # stderr is /dev/null once ready
            pass

        def reply(self, code: int, obj) -> None:
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/health":
                self.reply(200, {"ok": True, "pid": os.getpid()})
            else:
                self.reply(404, {"error": "not found"})

        def do_POST(self):
            if self.path != "/generate":
                return self.reply(404, {"error": "not found"})
            try:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                n = int(req.get("max_new_tokens", 16))
                t1 = time.perf_counter()
                with torch.no_grad():
                    if "prompts" in req:
                        toks = eng.generate([[int(x) for x in p] for p in req["prompts"]], n)
                    else:
                        toks = eng.generate([[int(x) for x in req["prompt_ids"]]], n)[0]
                self.reply(200, {"tokens": toks, "seconds": time.perf_counter() - t1})
            except (ValueError, KeyError, TypeError) as e:
                self.reply(400, {"error": str(e)})

    srv = http.server.HTTPServer(("127.0.0.1", a.port), Handler)
    t["readySeconds"] = time.perf_counter() - T_START
    info = {"pid": os.getpid(), "preset": a.preset, "model": "Qwen3ForCausalLM", "port": a.port,
            "layers": cfg.num_hidden_layers, "bytes": t["weightBytes"], **t,
            "startedAt": WALL_START, "readyAt": time.time(), "answer": first,
            "threads": len(os.listdir("/proc/self/task")), "openFiles": open_files(),
            "mappedShards": mapped_files(".safetensors"),
            "mappedCompileCache": [f for f in mapped_files(".so") if t.get("compileCache") and f.startswith(t["compileCache"])],
            "children": children(),
            "gpuAllocatedBytes": torch.cuda.memory_allocated() if not a.cpu else 0,
            "gpuReservedBytes": torch.cuda.memory_reserved() if not a.cpu else 0,
            "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                         "safetensors": __import__("safetensors").__version__}}
    write_json_atomic(a.ready, info)
    if not a.keep_stdio:
        nul = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(nul, fd)
        os.close(nul)
    log(a.log, f"ready in {t['readySeconds']:.2f}s: load {t['loadSeconds']:.2f}s warm-up {t['warmupSeconds']:.2f}s, port {a.port}")

    seq = 0
    lfd = srv.fileno()
    while True:
        try:
            r, _, _ = select.select([lfd, rfd], [], [])
        except InterruptedError:
            r = []
        sigs = b""
        if rfd in r:
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
                log(a.log, f"{signal.Signals(sig).name}: exiting")
                os._exit(0)
            if sig != signal.SIGUSR2:
                continue
            seq += 1
            t0 = time.perf_counter()
            ans = answer(torch, cfg, model, eng, a.answer_tokens)
            ans.update({"pid": os.getpid(), "seq": seq, "seconds": time.perf_counter() - t0, "at": time.time()})
            write_json_atomic(a.out, ans)
        if lfd in r:
            srv._handle_request_noblock()


# ---------------------------------------------------------------- check


def cmd_check(a) -> int:
    """Our prefill/decode (graphs, as served) against transformers' own forward on the same weights."""
    t: dict = {}
    torch, cfg, model, eng, dev = load(a, t)
    res: dict = {"preset": a.preset, "load": t}
    single, batch = fixed_prompts(cfg.vocab_size)
    n_new = a.answer_tokens
    with torch.no_grad():
        if not (a.cpu or a.no_graphs):
            eng.capture([int(x) for x in a.graph_batches.split(",") if x])
        ids = torch.tensor([single], device=dev)
        ref = model(input_ids=ids, use_cache=False).logits[0].float()
        ours = eng.prefill(0, single, all_logits=True).float()
        res["prefillMaxAbsDiff"] = float((ref - ours).abs().max())
        res["logitsAbsMax"] = float(ref.abs().max())
        res["prefillArgmaxAgree"] = float((ref.argmax(-1) == ours.argmax(-1)).float().mean())
        # greedy: HF's forward over the whole sequence for each new token vs our served path
        seq = list(single)
        hf_tokens, margins = [], []
        for _ in range(n_new):
            lg = model(input_ids=torch.tensor([seq], device=dev), use_cache=False).logits[0, -1].float()
            top = torch.topk(lg, 2).values
            margins.append(float(top[0] - top[1]))
            nxt = int(lg.argmax())
            hf_tokens.append(nxt)
            seq.append(nxt)
        our_tokens = eng.generate([single], n_new)[0]
        agree = 0
        for x, y in zip(hf_tokens, our_tokens):
            if x != y:
                break
            agree += 1
        # where they part, HF's own top-2 margin: within the two paths' logit difference it
        # is a near-tie decided by bf16 rounding, not a wrong model
        at = margins[agree] if agree < n_new else None
        res.update({"hfTokens": hf_tokens, "ourTokens": our_tokens, "tokensAgreeingPrefix": agree, "tokens": n_new,
                    "minTop2Margin": min(margins), "hfTop2MarginWhereTheyPart": at,
                    "partAtNearTie": at is not None and at <= 2 * res["prefillMaxAbsDiff"] + 1e-6,
                    "graphs": sorted(eng.graphs)})
        # batched decode vs one at a time (different graphs, same greedy tokens expected)
        b_tok = eng.generate(batch, n_new // 2)
        one = [eng.generate([p], n_new // 2)[0] for p in batch]
        res["batchEqualsSingle"] = b_tok == one
    res["ok"] = (res["prefillArgmaxAgree"] == 1.0 and res["prefillMaxAbsDiff"] <= 0.05 * max(res["logitsAbsMax"], 1e-6)
                 and (res["tokensAgreeingPrefix"] == n_new or res["partAtNearTie"]))
    print(json.dumps(res))
    return 0 if res["ok"] else 1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["gen", "serve", "check"])
    ap.add_argument("--data", required=True, help="model directory root (DATA/PRESET/ holds the shards)")
    ap.add_argument("--preset", default="qwen3-8b", choices=sorted(PRESETS))
    ap.add_argument("--ready", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--log", default="")
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--max-seq", type=int, default=4096)
    ap.add_argument("--graph-batches", default="1,2,4,8")
    ap.add_argument("--profile-tokens", type=int, default=512)
    ap.add_argument("--answer-tokens", type=int, default=32)
    ap.add_argument("--cpu", action="store_true", help="tests without a GPU: no graphs")
    ap.add_argument("--no-graphs", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile the decode step (inductor) before graph capture")
    ap.add_argument("--compile-cache", default="", help="--compile's cache directory (default: a new one under DATA/compile-cache/)")
    ap.add_argument("--no-kv", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--keep-stdio", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.cmd == "gen":
        return cmd_gen(a)
    if a.cmd == "check":
        return cmd_check(a)
    if not a.ready or not a.out:
        ap.error("serve needs --ready and --out")
    return cmd_serve(a)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BaseException as e:  # noqa: BLE001
        if not isinstance(e, SystemExit):
            sys.stderr.write(f"llm_worker failed: {e!r}\n")
        raise

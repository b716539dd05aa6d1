#!/usr/bin/env node
/**
 * The whole user flow through the CLI, on the GPU machine (issue 18 item 2): for each CRIU
 * (the patched one, then Debian's), a dev cluster with the process runtime and the cuda
 * engine, then
 *   snapshotctl checkpoint --manifest llm-worker          (cold start + CUDA checkpoint + criu dump)
 *   snapshotctl restore --manifest llm-worker              (a new pod)
 *   delete that pod, create llm-placeholder, snapshotctl restore --pod llm-placeholder  (in place)
 * each timed (CLI wall time, and until the restored worker answers over HTTP), and the
 * restored worker's tokens (HTTP, and the SIGUSR2 answer with the weights' checksums)
 * compared with the cold worker's (its ready file, carried in the checkpoint). Then dev
 * down, and a check that nothing is left. Started by bench/gpu/cli_flow.sh (which
 * unpacks .gpu-carry/); see bench/gpu/README.md.
 *
 *   node cli_flow.mjs --app DIR --repo DIR --out DIR [--smoke] [--preset P] [--criu parallel,stock]
 *        [--thp always|madvise|asis] [--budget S] [--data DIR] [--work DIR]
 *        [--worker llm|fake-llm|cpu] [--engine cuda|criu] [--cold-cache]
 *
 * --cold-cache: after the in-place restore, one more `restore --manifest` with the page
 * cache dropped first (`sync; echo 3 > /proc/sys/vm/drop_caches`; root on the GPU
 * machine), for the first CRIU of --criu only: the restore as a node that has not read
 * the images since they were written sees it.
 *
 * Stops at the first failure, tears down, and still writes $OUT/cli-results.json (rows
 * so far, the error) and $OUT/cli-flow.log. Exit 0 only when every step passed and every
 * restored worker answered like the cold one.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    app: { type: 'string' },
    repo: { type: 'string' },
    out: { type: 'string', default: process.env.OUT || 'cli-flow-out' },
    smoke: { type: 'boolean', default: false },
    preset: { type: 'string' },
    criu: { type: 'string', default: 'parallel,stock' },
    thp: { type: 'string', default: 'asis' },
    budget: { type: 'string', default: '510' },
    data: { type: 'string', default: '/var/tmp/snapbench-llm' },
    work: { type: 'string', default: '/var/tmp/snapshotctl-cli-flow' },
    worker: { type: 'string', default: 'llm' },
    engine: { type: 'string' },
    python: { type: 'string', default: 'python3' },
    timeout: { type: 'string' },
    'cold-cache': { type: 'boolean', default: false },
    // appended to the LLM worker's arguments in its manifest, e.g. --compile
    'worker-args': { type: 'string', default: '' },
  },
});
if (!a.app || !a.repo) {
  process.stderr.write('usage: cli_flow.mjs --app DIR --repo DIR --out DIR [...] (run through bench/gpu/cli_flow.sh)\n');
  process.exit(2);
}
const T0 = performance.now();
const app = resolve(a.app);
const repo = resolve(a.repo);
const out = resolve(a.out);
const work = resolve(a.work);
const data = resolve(a.data);
const kind = a.worker;
if (!['llm', 'fake-llm', 'cpu'].includes(kind)) throw new Error(`--worker ${kind}: llm, fake-llm or cpu`);
const engine = a.engine ?? (kind === 'llm' ? 'cuda' : 'criu');
// sim saves no process: on the process runtime the restored pod never turns Ready.
if (!['cuda', 'criu'].includes(engine)) throw new Error(`--engine ${engine}: cuda or criu (the sim engine saves no process, so nothing could answer after a restore)`);
const preset = a.preset ?? (a.smoke ? 'qwen3-8b-2l' : 'qwen3-8b');
const budget = Number(a.budget);
const workerArgs = a['worker-args'].split(/\s+/).filter(Boolean);
if (workerArgs.length && kind === 'cpu') throw new Error('--worker-args: for the LLM workers only');
const cliTimeout = a.timeout ?? (a.smoke || kind !== 'llm' ? '150s' : '240s');
const snapshotctl = join(app, 'bin', 'snapshotctl.js');
const ns = 'default';
mkdirSync(out, { recursive: true });
mkdirSync(work, { recursive: true });
const logFile = join(out, 'cli-flow.log');
writeFileSync(logFile, '');

const secs = (from = T0) => (performance.now() - from) / 1000;
const r3 = (x) => (x === undefined || x === null || Number.isNaN(x) ? x : Math.round(x * 1000) / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const logOnly = (text) => appendFileSync(logFile, text.endsWith('\n') ? text : `${text}\n`);
const say = (line) => {
  const text = `[${secs().toFixed(1).padStart(6)} s] ${line}`;
  process.stdout.write(`${text}\n`);
  logOnly(text);
};

const results = {
  what: 'snapshotctl CLI flow on the dev cluster (process runtime): checkpoint, restore from the manifest, restore in place',
  startedAt: new Date().toISOString(),
  options: { worker: kind, engine, preset, criu: a.criu, thp: a.thp, budget, data, work, cliTimeout, workerArgs },
  machine: {},
  runs: [],
  rows: [],
  ok: false,
};
const save = () => writeFileSync(join(out, 'cli-results.json'), `${JSON.stringify(results, null, 1)}\n`);

class StepError extends Error {}
// SIGTERM/SIGINT (a `timeout` around the run): stop the command in flight, fail the step, tear down.
let interrupted;
let current;
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = sig;
    say(`${sig}: stopping the command in flight, then tearing down`);
    current?.kill('SIGTERM');
  });
}
const fail = (msg) => {
  throw new StepError(msg);
};

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { code: r.status ?? (r.error ? 127 : 128), out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** Run a snapshotctl command; its output goes to the log (and, indented, to stdout). */
async function cli(args, env, what) {
  const started = performance.now();
  say(`$ snapshotctl ${args.join(' ')}`);
  if (interrupted && args[0] !== 'dev') fail(`interrupted (${interrupted})`);
  const child = spawn(process.execPath, [snapshotctl, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (args[0] !== 'dev') current = child;
  let text = '';
  const onData = (b) => {
    const t = b.toString();
    text += t;
    for (const line of t.split('\n')) if (line.trim()) process.stdout.write(`           | ${line}\n`);
    logOnly(t.split('\n').filter((l) => l.trim()).map((l) => `           | ${l}`).join('\n'));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise((r) => child.on('close', (c) => r(c ?? 128)));
  if (current === child) current = undefined;
  const seconds = secs(started);
  say(`  ${code === 0 ? 'ok' : `FAILED (exit ${code})`}: ${what} in ${seconds.toFixed(2)} s`);
  return { code, seconds, text };
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

function alive(pid) {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)?.[0] !== 'Z';
  } catch {
    return false;
  }
}
const present = (pid) => existsSync(`/proc/${pid}`);

/** A stuck process's state for the log: its status lines about signals and each thread's state and wait channel. */
function procSnapshot(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter((l) => /^(State|PPid|SigQ|SigPnd|ShdPnd|SigBlk|SigIgn|SigCgt|Threads):/.test(l));
    const threads = readdirSync(`/proc/${pid}/task`).map((t) => {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      let wchan = '';
      try {
        wchan = readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8');
      } catch {}
      return `${t}:${comm}:${st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3)}:${wchan}`;
    });
    return `${status.join('; ')}; threads ${threads.join(' ')}`;
  } catch (err) {
    return `(cannot read /proc/${pid}: ${err.message})`;
  }
}

async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) fail(`timed out after ${ms / 1000} s waiting for ${what}`);
    if (interrupted) fail(`interrupted (${interrupted}) while waiting for ${what}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------- the worker's protocol

function httpJson(port, method, path, body, timeoutMs = 60_000) {
  return new Promise((res, rej) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(`${method} ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
    });
    let buf = '';
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no answer from 127.0.0.1:${port}${path} in ${timeoutMs / 1000} s`)));
    sock.setEncoding('utf8').on('data', (t) => (buf += t));
    sock.on('error', rej);
    sock.on('end', () => {
      const i = buf.indexOf('\r\n\r\n');
      const status = Number(buf.split(' ')[1]);
      try {
        if (status !== 200) throw new Error(`HTTP ${status}: ${buf.slice(i + 4, i + 400)}`);
        res(JSON.parse(buf.slice(i + 4)));
      } catch (err) {
        rej(err);
      }
    });
  });
}

function cpuAsk(port) {
  return new Promise((res, rej) => {
    let text = '';
    const s = connect(port, '127.0.0.1', () => s.write('checksum\n'));
    s.setTimeout(20_000, () => s.destroy(new Error('no answer in 20 s')));
    s.setEncoding('utf8').on('data', (t) => (text += t));
    s.on('end', () => {
      try {
        res(JSON.parse(text));
      } catch (err) {
        rej(err);
      }
    });
    s.on('error', rej);
  });
}

/** Until the worker on `port` answers (GET /health, or the CPU worker's checksum). */
async function waitAnswers(port, ms) {
  return waitFor(
    async () => {
      try {
        return kind === 'cpu' ? await cpuAsk(port) : await httpJson(port, 'GET', '/health', undefined, 5000);
      } catch {
        return undefined;
      }
    },
    ms,
    `the worker to answer on 127.0.0.1:${port}`,
  );
}

/** The LLM worker's SIGUSR2 answer, written to --out (answer.json) in its working directory. */
async function sigusr2Answer(pid) {
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const file = join(cwd, 'answer.json');
  if (existsSync(file)) unlinkSync(file);
  process.kill(pid, 'SIGUSR2');
  await waitFor(() => existsSync(file) || !alive(pid), 120_000, `the SIGUSR2 answer of pid ${pid}`);
  if (!alive(pid)) fail(`the restored worker (pid ${pid}) died after SIGUSR2`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Compare the restored worker's answers with the cold worker's. */
async function compare(cold, port, pid) {
  if (kind === 'cpu') {
    const ans = await cpuAsk(port);
    const ok = ans.checksum === ans.warmupChecksum && ans.warmups === 1 && ans.instance === cold.instance;
    return { outputEqual: ok, checksum: ans.checksum, warmups: ans.warmups, instance: ans.instance };
  }
  const t0 = performance.now();
  const http = await httpJson(port, 'POST', '/generate', { prompt_ids: cold.answer.prompt, max_new_tokens: cold.answer.tokens.length }, 120_000);
  const httpSeconds = secs(t0);
  const sig = await sigusr2Answer(pid);
  const httpEqual = JSON.stringify(http.tokens) === JSON.stringify(cold.answer.tokens);
  const answerEqual = sig.forwardSha256 === cold.answer.forwardSha256 && sig.weightsSha256 === cold.answer.weightsSha256;
  return {
    outputEqual: httpEqual && answerEqual,
    httpEqual,
    answerEqual,
    logitsEqual: sig.logitsSha256 === cold.answer.logitsSha256,
    weightsEqual: sig.weightsSha256 === cold.answer.weightsSha256,
    httpSeconds: r3(httpSeconds),
    httpTokens: http.tokens,
    coldTokens: cold.answer.tokens,
  };
}

// ---------------------------------------------------------------- manifests

const yaml = createRequire(join(app, 'package.json'))('yaml');

function sampleManifests(port, python) {
  const samples = join(app, 'manifests', 'samples');
  const load = (f) => yaml.parse(readFileSync(join(samples, f), 'utf8'));
  if (kind === 'cpu') {
    const w = load('cpu-worker.yaml');
    const c = w.spec.containers[0];
    c.command = [process.execPath, join(app, 'manifests/samples/cpu-worker/worker.mjs')];
    c.env = c.env.map((e) => (e.name === 'CPU_WORKER_PORT' ? { ...e, value: String(port) } : e));
    return { worker: w, placeholder: load('cpu-placeholder.yaml') };
  }
  const w = load('llm-worker.yaml');
  const c = w.spec.containers[0];
  const script = kind === 'llm' ? join(repo, 'bench/gpu/llm_worker.py') : join(repo, 'bench/gpu/testing/fake_llm_worker.py');
  c.command = [python, script, 'serve'];
  const args = [...c.args];
  const set = (flag, value) => {
    const i = args.indexOf(flag);
    if (i < 0) fail(`llm-worker.yaml has no ${flag} argument`);
    args[i + 1] = value;
  };
  set('--data', data);
  set('--preset', preset);
  set('--port', String(port));
  c.args = [...args, ...workerArgs];
  // The process runtime gives containers the pod's environment (plus PATH and HOME).
  for (const name of ['LD_LIBRARY_PATH', 'CUDA_HOME']) {
    if (process.env[name]) c.env.push({ name, value: process.env[name] });
  }
  if (workerPythonPath) c.env.push({ name: 'PYTHONPATH', value: workerPythonPath });
  return { worker: w, placeholder: load('llm-placeholder.yaml') };
}

/**
 * PYTHONPATH for the worker, when its imports need one: a process container has only the
 * pod's environment, PATH and HOME=its working directory, so a torch installed with `pip
 * install --user` (under the real HOME) or found through PYTHONPATH is not found there.
 */
let workerPythonPath = process.env['PYTHONPATH'] || '';
function checkWorkerImports(python) {
  const mods = kind === 'llm' ? 'torch, transformers, safetensors' : 'json';
  const asContainer = (extra) => spawnSync(python, ['-c', `import ${mods}`], { encoding: 'utf8', cwd: work, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: work, ...(extra ? { PYTHONPATH: extra } : {}) } });
  let r = asContainer(workerPythonPath);
  if (r.status === 0) return;
  const here = spawnSync(python, ['-c', `import os, ${mods}; print(os.pathsep.join(sorted({os.path.dirname(m.__path__[0] if hasattr(m, "__path__") else m.__file__) for m in (${mods},)})))`], { encoding: 'utf8' });
  if (here.status !== 0) fail(`${python} cannot import ${mods}: ${`${here.stderr}`.trim().split('\n').at(-1)}`);
  workerPythonPath = [here.stdout.trim(), workerPythonPath].filter(Boolean).join(':');
  r = asContainer(workerPythonPath);
  if (r.status !== 0) fail(`${python} imports ${mods} here but not with a container's environment, even with PYTHONPATH=${workerPythonPath}: ${`${r.stderr}`.trim().split('\n').at(-1)}`);
  say(`  the worker's imports need PYTHONPATH=${workerPythonPath} in a container's environment (HOME is its working directory there); the manifest gets it`);
}

// ---------------------------------------------------------------- machine

function setThp(mode) {
  try {
    writeFileSync('/sys/kernel/mm/transparent_hugepage/enabled', mode);
    return true;
  } catch (err) {
    say(`could not set THP to ${mode}: ${err.message}`);
    return false;
  }
}
const thpNow = () => {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
};

function machine() {
  const m = { kernel: sh('uname', ['-r']).out, cpus: sh('nproc', []).out, thp: thpNow(), node: process.version, uid: process.getuid?.() };
  const smi = sh('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader']);
  m.gpu = smi.code === 0 ? smi.out : `nvidia-smi: ${smi.out.slice(0, 200) || 'not found'}`;
  m.python = sh(a.python, ['--version']).out;
  try {
    m.memTotalGiB = r3(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]) / 2 ** 20);
  } catch {}
  m.disk = sh('df', ['-h', work]).out.split('\n').at(-1);
  return m;
}

/** Processes left of ours: a command line naming the worker's script and our port, or our state dir. */
function leftovers(port, stateDir) {
  const found = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    const worker = /llm_worker\.py serve|fake_llm_worker\.py serve|cpu-worker\/worker\.mjs/.test(cmd) && (kind === 'cpu' || cmd.includes(`--port ${port}`));
    if (worker || (stateDir && cmd.includes(stateDir))) found.push({ pid: Number(p), cmd: cmd.slice(0, 200) });
  }
  return found;
}

// ---------------------------------------------------------------- engine log lines

function engineFacts(text) {
  const f = {};
  let m;
  if ((m = /CUDA lock \+ checkpoint of [\d, ]+ in ([\d.]+) s \(([\d.]+) GiB/.exec(text))) Object.assign(f, { cudaCheckpointSeconds: Number(m[1]), gpuGiB: Number(m[2]) });
  if ((m = /dumped pid \d+ in ([\d.]+) s, (\d+) bytes of images/.exec(text))) Object.assign(f, { criuDumpSeconds: Number(m[1]), imageGiB: r3(Number(m[2]) / 2 ** 30) });
  if ((m = /restored pid \d+ in ([\d.]+) s(?:; (\d+) bytes of pages read with (\d+) thread)?/.exec(text))) {
    Object.assign(f, { criuRestoreSeconds: Number(m[1]) });
    if (m[3]) f.pageReadThreads = Number(m[3]);
  }
  if ((m = /CUDA restore \+ unlock of [\d, ]+ in ([\d.]+) s/.exec(text))) f.cudaRestoreSeconds = Number(m[1]);
  const hints = text.split('\n').filter((l) => /transparent huge pages are|with one thread;/.test(l));
  if (hints.length) f.engineHints = hints.map((l) => l.replace(/^.*?(cuda|criu): /, '$1: ').slice(0, 240));
  return f;
}

function findArtifact(storage, id) {
  const base = join(storage, id, 'versions');
  if (!existsSync(base)) return undefined;
  for (const v of readdirSync(base)) if (!v.startsWith('.') && existsSync(join(base, v, 'criu.json'))) return join(base, v);
  return undefined;
}

/**
 * The CRIU root for a variant. criu itself runs through the bundle's own loader, but the
 * dev nodes run the no-io-uring launcher (seccomp for checkpoint and placeholder pods)
 * directly, on this host's glibc; where that cannot run it (the bundle is built on
 * trixie: GLIBC_2.34), a copy of the root gets a launcher that goes through the loader.
 */
function criuRootFor(variant, root) {
  const launcher = join(root, 'snapshotctl/no-io-uring');
  if (!existsSync(launcher)) {
    say(`  ${root} has no snapshotctl/no-io-uring: checkpoint and placeholder pods run without the block-iouring seccomp filter`);
    return root;
  }
  const t = sh(launcher, ['true']);
  if (t.code === 0 && !process.env['CLI_FLOW_LOADER_LAUNCHER']) return root; // (set: test the fallback)
  say(`  the bundle's no-io-uring launcher does not run on this host (exit ${t.code}: ${t.out.slice(0, 200)}); using a copy of ${root} whose launcher runs through the bundle's loader`);
  const copy = join(work, `criu-root-${variant}`);
  rmSync(copy, { recursive: true, force: true });
  const c = sh('cp', ['-a', `${root}/.`, copy]);
  if (c.code !== 0) fail(`cp -a ${root} ${copy}: ${c.out}`);
  const bin = join(copy, 'snapshotctl/no-io-uring.bin');
  sh('mv', [join(copy, 'snapshotctl/no-io-uring'), bin]);
  const libs = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((d) => join(copy, d)).join(':');
  writeFileSync(join(copy, 'snapshotctl/no-io-uring'), `#!/bin/sh\nexec '${join(copy, 'lib64/ld-linux-x86-64.so.2')}' --library-path '${libs}' '${bin}' "$@"\n`, { mode: 0o755 });
  const again = sh(join(copy, 'snapshotctl/no-io-uring'), ['true']);
  if (again.code !== 0) fail(`the no-io-uring launcher does not run here, even through the bundle's loader: ${again.out.slice(0, 300)}`);
  return copy;
}

// ---------------------------------------------------------------- one CRIU variant

async function runVariant(variant, criuRoot, python) {
  const run = { criu: variant, criuRoot, thp: thpNow(), steps: [], ok: false };
  results.runs.push(run);
  const stateDir = join(work, `dev-${variant}`);
  const port = await freePort();
  const env = { ...process.env, SNAPSHOTCTL_CRIU_ROOT: criuRoot, NO_COLOR: '1' };
  delete env.SNAPSHOTCTL_CRIU;
  delete env.KUBECONFIG;
  let up = false;
  let serverLogCopied = false;
  let kubeconfig;
  let client;
  let RESOURCES;
  const step = async (name, fn) => {
    const s = { name, ok: false };
    run.steps.push(s);
    const t = performance.now();
    say(`--- [${variant}] ${name}`);
    try {
      const v = await fn(s);
      s.ok = true;
      return v;
    } catch (err) {
      s.error = err.message;
      throw err;
    } finally {
      s.seconds = r3(secs(t));
      save();
    }
  };
  const serverLog = () => (existsSync(join(stateDir, 'server.log')) ? readFileSync(join(stateDir, 'server.log'), 'utf8') : '');
  const copyLogs = () => {
    if (serverLogCopied || !existsSync(join(stateDir, 'server.log'))) return;
    copyFileSync(join(stateDir, 'server.log'), join(out, `server-${variant}.log`));
    serverLogCopied = true;
    // Each container's stdout/stderr (a worker that failed to start says why there).
    const dest = join(out, `containers-${variant}`);
    for (const d of readdirSync(stateDir)) {
      const log = join(stateDir, d, 'container.log');
      if (!d.startsWith('snapshotctl-') || !existsSync(log)) continue;
      mkdirSync(dest, { recursive: true });
      copyFileSync(log, join(dest, `${d}.log`));
      const wlog = join(stateDir, d, 'work', 'worker.log');
      if (existsSync(wlog)) copyFileSync(wlog, join(dest, `${d}.worker.log`));
    }
  };
  const common = () => ['--kubeconfig', kubeconfig, '-n', ns, '--timeout', cliTimeout, '--no-color'];
  const rowBase = {};
  try {
    if (existsSync(stateDir)) {
      await cli(['dev', 'down', '--state-dir', stateDir], env, 'dev down of a cluster a previous run left');
      rmSync(stateDir, { recursive: true, force: true });
    }
    await step(`dev up --runtime process --engine ${engine}`, async () => {
      const r = await cli(['dev', 'up', '--runtime', 'process', '--engine', engine, '--nodes', '1', '--state-dir', stateDir], env, 'dev up');
      if (r.code !== 0) fail(`dev up failed (exit ${r.code}): ${r.text.trim().split('\n').slice(-3).join(' | ')}`);
      up = true;
      const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
      kubeconfig = state.kubeconfig;
      run.engineLine = state.engineLine;
      say(`  ${state.engineLine}`);
      ({ RESOURCES } = await import(pathToFileURL(join(app, 'dist/kube/types.js')).href));
      const { createKubeClient } = await import(pathToFileURL(join(app, 'dist/kube/client.js')).href);
      client = await createKubeClient({ kubeconfig });
    });

    const m = sampleManifests(port, python);
    const workerFile = join(work, `worker-${variant}.json`);
    writeFileSync(workerFile, JSON.stringify(m.worker, null, 1));
    await step('validate the manifests', async () => {
      const phFile = join(work, `placeholder-${variant}.json`);
      writeFileSync(phFile, JSON.stringify(m.placeholder, null, 1));
      const v1 = await cli(['validate', workerFile, '--disable-cuda-checkpoint-job-file', '--no-color'], env, 'validate worker');
      const v2 = await cli(['validate', '--for', 'restore', phFile, '--no-color'], env, 'validate placeholder');
      if (v1.code !== 0 || v2.code !== 0) fail('snapshotctl validate refused a sample manifest');
    });

    const id = `cli-${variant}-${Date.now().toString(36)}`;
    let cold;
    let meta;
    await step('checkpoint --manifest (cold start, CUDA checkpoint, criu dump)', async (s) => {
      const startedAt = Date.now() / 1000;
      const before = serverLog().length;
      const r = await cli(['checkpoint', '--manifest', workerFile, '--checkpoint-id', id, '--disable-cuda-checkpoint-job-file', ...common()], env, 'checkpoint');
      s.cliSeconds = r3(r.seconds);
      Object.assign(rowBase, { checkpointSeconds: r3(r.seconds) }, engineFacts(serverLog().slice(before)));
      if (r.code !== 0) fail(`snapshotctl checkpoint failed (exit ${r.code}); the agents' log is in $OUT/server-${variant}.log`);
      const dir = findArtifact(join(stateDir, 'checkpoints'), id);
      if (!dir) fail(`checkpoint ${id} reported done but no artifact with criu.json is under ${join(stateDir, 'checkpoints', id)}`);
      meta = JSON.parse(readFileSync(join(dir, 'criu.json'), 'utf8'));
      if (existsSync(join(dir, 'cuda.json'))) run.cuda = JSON.parse(readFileSync(join(dir, 'cuda.json'), 'utf8'));
      const readyPath = join(dir, 'workdir', kind === 'cpu' ? 'warmup-count' : 'ready-for-checkpoint');
      if (kind !== 'cpu') {
        if (!existsSync(readyPath)) fail(`the checkpoint has no ready file of the cold worker (${readyPath})`);
        cold = JSON.parse(readFileSync(readyPath, 'utf8'));
        for (const f of ['worker.log']) if (existsSync(join(dir, 'workdir', f))) copyFileSync(join(dir, 'workdir', f), join(out, `${f.replace('.log', '')}-${variant}.log`));
        rowBase.coldSeconds = r3(cold.readySeconds);
        rowBase.gib = r3(cold.bytes / 2 ** 30);
        rowBase.checkpointAfterReadySeconds = r3(startedAt + r.seconds - cold.readyAt);
        rowBase.compile = cold.compileCache !== undefined;
        if (rowBase.compile) rowBase.compileSeconds = r3(cold.compileSeconds);
        run.cold = { readySeconds: cold.readySeconds, pid: cold.pid, load: { importSeconds: cold.importSeconds, buildSeconds: cold.buildSeconds, loadSeconds: cold.loadSeconds, compileSeconds: cold.compileSeconds, warmupSeconds: cold.warmupSeconds }, compileCache: cold.compileCache, mappedCompileCache: cold.mappedCompileCache?.length, signals: cold.signalsBeforeReady, tokens: cold.answer?.tokens, versions: cold.versions, gpuReservedBytes: cold.gpuReservedBytes };
      }
      say(`  checkpoint ${id}: ${JSON.stringify(rowBase)}`);
    });

    await step('the checkpointed worker exits (SIGUSR1), its PIDs free', async () => {
      try {
        await waitFor(() => meta.tids.every((t) => !present(t)), 90_000, `the checkpointed worker's ${meta.tids.length} PIDs (root ${meta.root}) to be free`);
      } catch (err) {
        say(`  the checkpointed worker is still there: ${procSnapshot(meta.root)}`);
        throw err;
      }
      if (kind === 'cpu') {
        // The CPU worker's reference: its own warm-up checksum (asked after each restore).
        cold = { instance: undefined };
      }
    });

    const restoreStep = async (how, args) => {
      const row = { model: kind === 'llm' ? (preset === 'qwen3-8b' ? 'Qwen3-8B' : preset === 'qwen3-8b-2l' ? 'Qwen3-8B widths, 2 layers (smoke)' : preset) : kind, preset, worker: kind, path: 'cli', restore: how, criu: variant, thp: thpNow(), engine, ...rowBase };
      results.rows.push(row);
      await step(`restore ${how === 'manifest' ? '--manifest (a new pod)' : `--pod ${m.placeholder.metadata.name} (in place)`}`, async (s) => {
        const before = serverLog().length;
        const t = performance.now();
        const r = await cli(args, env, `restore (${how})`);
        row.restoreCliSeconds = r3(r.seconds);
        Object.assign(row, engineFacts(serverLog().slice(before)));
        if (r.code !== 0) fail(`snapshotctl restore (${how}) failed (exit ${r.code}); the agents' log is in $OUT/server-${variant}.log`);
        {
          const first = await waitAnswers(port, 120_000);
          row.restoreSeconds = r3(secs(t));
          if (kind === 'cpu' && cold.instance === undefined) {
            cold.instance = first.instance;
            row.coldSeconds = rowBase.coldSeconds = first.warmupSeconds;
            row.gib = rowBase.gib = r3((first.mb ?? 0) / 1024);
          }
          try {
            // 2: the restored worker still has the block-iouring seccomp filter it was checkpointed with
            row.seccomp = Number(/Seccomp:\s+(\d+)/.exec(readFileSync(`/proc/${meta.root}/status`, 'utf8'))?.[1]);
          } catch {}
          Object.assign(row, await compare(cold, port, meta.root));
          say(`  restored worker answered ${row.restoreSeconds} s after the CLI started (CLI ${row.restoreCliSeconds} s); output equal: ${row.outputEqual}${row.httpTokens ? ` (HTTP tokens ${JSON.stringify(row.httpTokens.slice(0, 8))}..., cold ${JSON.stringify(row.coldTokens.slice(0, 8))}...)` : ''}`);
          if (row.outputEqual !== true) fail(`the restored worker (${how}) does not answer like the cold one: ${JSON.stringify({ httpEqual: row.httpEqual, answerEqual: row.answerEqual, weightsEqual: row.weightsEqual })}`);
        }
        s.restoreSeconds = row.restoreSeconds;
        delete row.coldTokens;
      });
    };

    await restoreStep('manifest', ['restore', '--manifest', workerFile, '--checkpoint-id', id, ...common()]);

    // The next restore needs the restored worker's PIDs (no PID namespace here).
    const deletePod = (what, name) =>
      step(what, async () => {
        await client.delete(RESOURCES.pods, ns, name, { gracePeriodSeconds: 0 });
        await waitFor(() => meta.tids.every((t) => !present(t)), 60_000, 'the restored worker to exit');
      });

    await deletePod('delete the restored pod (the next restore needs its PIDs)', m.worker.metadata.name);

    await step(`create placeholder pod ${m.placeholder.metadata.name}`, async () => {
      await client.create(RESOURCES.pods, ns, m.placeholder);
      await waitFor(async () => (await client.get(RESOURCES.pods, ns, m.placeholder.metadata.name)).status?.phase === 'Running', 60_000, 'the placeholder to be Running');
    });

    await restoreStep('in-place', ['restore', '--pod', m.placeholder.metadata.name, '--checkpoint-id', id, ...common()]);

    await deletePod('delete the placeholder pod', m.placeholder.metadata.name);

    if (a['cold-cache'] && variant === a.criu.split(',')[0]) {
      await step('drop the page cache (sync; echo 3 > /proc/sys/vm/drop_caches)', async () => {
        execFileSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches']);
      });
      await restoreStep('manifest-cold-cache', ['restore', '--manifest', workerFile, '--checkpoint-id', id, ...common()]);
      await deletePod('delete the restored pod', m.worker.metadata.name);
    }
    run.ok = true;
  } finally {
    copyLogs();
    if (up || existsSync(stateDir)) {
      const r = await cli(['dev', 'down', '--state-dir', stateDir], env, 'dev down');
      run.devDown = r.code === 0 ? 'ok' : `exit ${r.code}`;
    }
    await sleep(500);
    const left = leftovers(port, stateDir);
    for (const p of left) {
      say(`  LEFT OVER after dev down: pid ${p.pid} ${p.cmd}; killing it`);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {}
    }
    run.leftovers = left;
    run.stateDirRemoved = !existsSync(stateDir);
    if (criuRoot.startsWith(`${work}/`)) rmSync(criuRoot, { recursive: true, force: true });
    if (!run.stateDirRemoved) say(`  LEFT OVER: ${stateDir} still exists`);
    save();
  }
  if (run.leftovers.length || !run.stateDirRemoved) fail(`[${variant}] dev down left ${run.leftovers.length} process(es)${run.stateDirRemoved ? '' : ` and ${stateDir}`}`);
  return run;
}

// ---------------------------------------------------------------- main

let code = 1;
let thpFound;
try {
  say(`snapshotctl CLI flow: worker ${kind}${kind !== 'cpu' ? ` (preset ${preset})` : ''}, engine ${engine}, CRIU ${a.criu}, THP ${a.thp}, budget ${budget} s`);
  say(`app ${app}, repo ${repo}, out ${out}, work ${work}, data ${data}`);
  if (process.getuid?.() !== 0) fail('run as root: CRIU needs it');
  results.machine = machine();
  say(`machine: ${JSON.stringify(results.machine)}`);
  save();
  // The interpreter itself (not a pyenv shim, which needs the real HOME): sys.executable.
  const exe = sh(a.python, ['-c', 'import sys; print(sys.executable)']);
  if (kind !== 'cpu' && (exe.code !== 0 || !exe.out)) fail(`${a.python} does not run: ${exe.out.slice(0, 200)}`);
  const python = kind === 'cpu' ? a.python : exe.out.split('\n').at(-1);
  if (kind !== 'cpu') say(`python: ${python} (${results.machine.python})`);

  if (kind !== 'cpu') checkWorkerImports(python);
  if (kind === 'llm') {
    say(`--- weights: ${a.python} llm_worker.py gen --data ${data} --preset ${preset} (once; not part of any timing)`);
    const t = performance.now();
    const g = spawnSync(python, [join(repo, 'bench/gpu/llm_worker.py'), 'gen', '--data', data, '--preset', preset], { encoding: 'utf8' });
    logOnly(`${g.stdout}${g.stderr}`);
    if (g.status !== 0) fail(`llm_worker.py gen failed (exit ${g.status}): ${`${g.stdout}${g.stderr}`.trim().split('\n').slice(-5).join(' | ')}`);
    results.gen = { seconds: r3(secs(t)), said: g.stdout.trim().split('\n').at(-1) };
    say(`  ${results.gen.said} (${results.gen.seconds} s)`);
  }

  // Disk: the images of one checkpoint (the 8B: 22 GiB) live in the dev cluster's state
  // directory until its dev down; the weights stay in --data.
  const needGiB = kind === 'llm' ? (preset === 'qwen3-8b' ? 24 : 7) : 1;
  const freeGiB = Number(sh('df', ['-Pk', work]).out.split('\n').at(-1)?.split(/\s+/)[3]) / 2 ** 20;
  results.machine.workFreeGiB = r3(freeGiB);
  if (freeGiB < needGiB) say(`WARNING: ${work} has ${freeGiB.toFixed(1)} GiB free and one checkpoint of ${preset} takes about ${needGiB} GiB of images`);

  if (a.thp !== 'asis') {
    thpFound = thpNow();
    if (!setThp(a.thp)) fail(`--thp ${a.thp}: cannot write /sys/kernel/mm/transparent_hugepage/enabled`);
    say(`THP: ${thpFound} -> ${thpNow()} (put back at the end)`);
  }

  const variants = a.criu.split(',').filter(Boolean);
  let lastSeconds = 0;
  for (const [i, variant] of variants.entries()) {
    const root = join(repo, variant === 'parallel' ? '.criu-carry-parallel' : variant === 'stock' ? '.criu-carry' : fail(`--criu ${variant}: parallel or stock`));
    if (!existsSync(join(root, 'usr/sbin/criu'))) {
      if (i === 0) fail(`${root} has no CRIU (usr/sbin/criu): carry it (scripts/setup-criu.sh --bundle ...)`);
      say(`--- [${variant}] SKIPPED: ${root} has no CRIU`);
      results.runs.push({ criu: variant, skipped: `${root} has no CRIU` });
      continue;
    }
    const left = budget - secs();
    if (i > 0 && left < lastSeconds * 1.15) {
      say(`--- [${variant}] SKIPPED: the last run took ${lastSeconds.toFixed(0)} s and ${left.toFixed(0)} s of the ${budget} s budget are left`);
      results.runs.push({ criu: variant, skipped: `budget: ${left.toFixed(0)} s left, the last run took ${lastSeconds.toFixed(0)} s` });
      continue;
    }
    const t = performance.now();
    await runVariant(variant, criuRootFor(variant, root), python);
    lastSeconds = secs(t);
    say(`--- [${variant}] done in ${lastSeconds.toFixed(1)} s`);
  }
  results.ok = results.rows.length > 0 && results.rows.every((r) => r.outputEqual === true);
  code = results.ok ? 0 : 1;
} catch (err) {
  results.error = err instanceof StepError ? err.message : (err?.stack ?? String(err));
  say(`FAILED: ${results.error}`);
} finally {
  if (thpFound && thpNow() !== thpFound) setThp(thpFound);
  // --compile's caches (llm_worker.py puts each cold start's under DATA/compile-cache/): kept
  // until every restore has run, since the restored worker maps Triton's launchers from there.
  if (workerArgs.includes('--compile')) rmSync(join(data, 'compile-cache'), { recursive: true, force: true });
  const apps = sh('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader']);
  if (apps.code === 0) {
    results.gpuProcessesAfter = apps.out ? apps.out.split('\n') : [];
    say(`GPU processes after teardown: ${apps.out || 'none'}`);
  }
  results.seconds = r3(secs());
  results.finishedAt = new Date().toISOString();
  save();
  say('rows:');
  for (const r of results.rows) {
    say(
      `  ${r.model} | cli | ${r.restore} | criu ${r.criu} | THP ${r.thp} | ${r.gib ?? '-'} GiB | cold ${r.coldSeconds ?? '-'} s | checkpoint ${r.checkpointSeconds ?? '-'} s (CUDA ${r.cudaCheckpointSeconds ?? '-'} + dump ${r.criuDumpSeconds ?? '-'}) | restore ${r.restoreSeconds ?? '-'} s (CLI ${r.restoreCliSeconds ?? '-'}; CRIU ${r.criuRestoreSeconds ?? '-'} + CUDA ${r.cudaRestoreSeconds ?? '-'}, ${r.pageReadThreads ?? 1} thread(s)) | output equal ${r.outputEqual}`,
    );
  }
  say(`${code === 0 ? 'PASSED' : 'FAILED'} in ${secs().toFixed(1)} s; ${join(out, 'cli-results.json')}, ${logFile}`);
}
process.exit(code);

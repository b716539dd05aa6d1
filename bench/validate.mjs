#!/usr/bin/env node
/**
 * How long `snapshotctl validate` takes on 100 manifests: in-process (the work itself,
 * cold with the schema library's import and warm) and through the CLI, next to
 * `node -e 0` (what any Node CLI pays to start). Needs `npm run build` first.
 *
 *   node bench/validate.mjs [--runs 7] [--count 100]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('runs', 7);
const COUNT = arg('count', 100);

if (!existsSync(join(ROOT, 'dist/commands/validate.js'))) {
  console.error('bench: dist/ is missing; run `npm run build` first');
  process.exit(2);
}

// 100 manifests from the fixture corpus, renamed so every file is distinct.
const sources = ['good', 'bad'].flatMap((d) =>
  readdirSync(join(ROOT, 'test/fixtures/validate', d))
    .filter((n) => n.endsWith('.yaml'))
    .map((n) => readFileSync(join(ROOT, 'test/fixtures/validate', d, n), 'utf8')),
);
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-bench-'));
for (let i = 0; i < COUNT; i++) writeFileSync(join(dir, `m${String(i).padStart(3, '0')}.yaml`), sources[i % sources.length]);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(1)} ms`;

// In-process: the command's complete + run on the directory, as the CLI calls them.
const validate = await import(join(ROOT, 'dist/commands/validate.js'));
const deps = {
  readFile: (p) => readFile(p, 'utf8'),
  readStdin: async () => '',
  readDir: async (p) => (await readdir(p, { withFileTypes: true })).map((e) => ({ name: e.name, isDirectory: e.isDirectory() })),
};
const once = async () => {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const opts = await validate.complete({ files: [dir] }, deps);
  const result = await validate.run(opts, deps);
  const used = process.cpuUsage(cpu);
  return { t: performance.now() - t, cpu: (used.user + used.system) / 1000, result };
};
const cold = await once();
const warm = [];
for (let i = 0; i < RUNS; i++) warm.push(await once());

// Through the CLI, a fresh process each time, and a bare Node start for comparison.
// Wall time suffers on a busy machine; the child's own CPU time (user + system) less so.
const CPU_REPORT = `data:text/javascript,${encodeURIComponent("process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('\\nCPU ' + (u.user + u.system) / 1000 + '\\n'); });")}`;
const wall = (args) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--import', CPU_REPORT, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  const elapsed = performance.now() - t;
  if (r.status !== 0 && r.status !== 2) throw new Error(`bench: ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall: elapsed, cpu: Number(/\nCPU ([\d.]+)\n/.exec(r.stderr)?.[1] ?? NaN) };
};
const bare = [];
const cli = [];
const help = [];
for (let i = 0; i < RUNS; i++) {
  bare.push(wall(['-e', '0']));
  cli.push(wall(['bin/snapshotctl.js', 'validate', '-o', 'json', dir]));
  help.push(wall(['bin/snapshotctl.js', '--help']));
}
const w = (xs) => median(xs.map((x) => x.wall));
const c = (xs) => median(xs.map((x) => x.cpu));
rmSync(dir, { recursive: true, force: true });

const s = cold.result.summary;
const row = (label, wallMs, cpuMs) => `  ${label.padEnd(52)}${ms(wallMs).padStart(10)}${ms(cpuMs).padStart(12)}`;
const lines = [
  `snapshotctl validate: ${COUNT} manifests (${s.documents} documents judged, ${s.errors} errors, ${s.warnings} warnings), median of ${RUNS} runs, Node ${process.version}`,
  `  ${''.padEnd(52)}${'wall'.padStart(10)}${'cpu'.padStart(12)}`,
  row('in-process, first run (imports kubernetes-models)', cold.t, cold.cpu),
  row('in-process, warm', median(warm.map((x) => x.t)), median(warm.map((x) => x.cpu))),
  row('CLI: node bin/snapshotctl.js validate DIR', w(cli), c(cli)),
  row('CLI: node bin/snapshotctl.js --help', w(help), c(help)),
  row('node -e 0 (start-up alone)', w(bare), c(bare)),
  `  CLI validate / node -e 0: ${(w(cli) / w(bare)).toFixed(2)}x wall, ${(c(cli) / c(bare)).toFixed(2)}x cpu; work after start-up (validate minus --help): ${ms(w(cli) - w(help))} wall, ${ms(c(cli) - c(help))} cpu`,
];
console.log(lines.join('\n'));

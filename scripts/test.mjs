#!/usr/bin/env node
// `npm test` after install and build: a typecheck of the sources and every test folder
// (the build compiles src/ without its tests), the default suite (vitest.config.ts: unit, the
// embedded dev cluster, chaos; its globalSetup src/testing/machine.ts is the one machine set-up
// step, CRIU and kubectl), then the real-cluster lane (scripts/test-real.sh: a real
// Kubernetes on 127.0.0.1). Arguments go to both vitest runs; an --outputFile=F becomes
// F for the first and F with `.real` before its extension for the second, so a report of
// each lane survives. When the real lane is skipped (SNAPSHOTCTL_SKIP_REAL=1, or not root
// on Linux), the reason is printed and, with --outputFile, written to the real report's
// path plus `.skipped` instead of a report (`.ci/count.mjs` counts that lane as skipped,
// and a lane with neither file as failed). Exit 1 when either lane failed.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const realArgs = args.map((a) => (a.startsWith('--outputFile=') ? a.replace(/(\.[^./]*)?$/, (ext) => `.real${ext || ''}`) : a));

const run = (cmd, argv) => spawnSync(cmd, argv, { stdio: 'inherit' }).status ?? 1;
const projects = ['tsconfig.json', 'test/e2e/tsconfig.json', 'test/real/tsconfig.json', 'test/chaos/tsconfig.json'];
const untyped = projects.filter((p) => run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', p, '--noEmit']) !== 0);
console.log(untyped.length === 0 ? `test: typecheck passed (${projects.join(', ')})` : `test: typecheck FAILED in ${untyped.join(', ')}`);
const dev = run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...args]);
let real = 0;
// The same condition as scripts/test-real.sh's own guard (kept there for a direct call).
const realSkipped =
  process.env.SNAPSHOTCTL_SKIP_REAL === '1'
    ? 'SNAPSHOTCTL_SKIP_REAL=1'
    : process.platform !== 'linux' || process.getuid?.() !== 0
      ? 'it needs root on Linux (containerd and a kubelet)'
      : undefined;
const realReport = realArgs.find((a) => a.startsWith('--outputFile='))?.slice('--outputFile='.length);
if (realReport) rmSync(`${realReport}.skipped`, { force: true });
if (realSkipped) {
  console.log(`test: the real-cluster lane was skipped: ${realSkipped}`);
  if (realReport) writeFileSync(`${realReport}.skipped`, `${realSkipped}\n`);
} else {
  console.log('== the real-cluster lane (scripts/test-real.sh)');
  real = run('bash', ['scripts/test-real.sh', ...realArgs]);
}
process.exit(untyped.length === 0 && dev === 0 && real === 0 ? 0 : 1);

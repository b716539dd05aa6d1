/**
 * CI's closing line (.ci/count.mjs over the lanes' vitest reports) and how scripts/test.mjs
 * tells it that the real lane was skipped on purpose: a skipped lane counts as skipped,
 * with its reason; a lane that should have run and left no report counts as failed.
 * scripts/test.mjs runs here in a scratch tree whose tsc, vitest and test-real.sh are
 * stand-ins, so only its own decisions are under test.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../src/testing/temp-dir.js';
import { ROOT } from './harness.js';

const COUNT = join(ROOT, '.ci/count.mjs');
const TEST_MJS = join(ROOT, 'scripts/test.mjs');

function count(dir: string, ...files: string[]): string {
  return execFileSync(process.execPath, [COUNT, ...files.map((f) => join(dir, f))], { encoding: 'utf8' });
}

const report = (passed: number, failed: number, pending: number, success = failed === 0) =>
  JSON.stringify({ numPassedTests: passed, numFailedTests: failed, numPendingTests: pending, numTodoTests: 0, success });

describe('.ci/count.mjs', () => {
  it('adds up the reports; a skipped lane counts as 1 skipped with its reason, a missing report as 1 failed', () => {
    const dir = tempDir('snapshotctl-ci-count-');
    writeFileSync(join(dir, 'node20.json'), report(10, 0, 2));
    writeFileSync(join(dir, 'node24.json'), report(9, 1, 0));
    writeFileSync(join(dir, 'node20.real.json.skipped'), 'SNAPSHOTCTL_SKIP_REAL=1\n');
    expect(count(dir, 'node20.json', 'node20.real.json', 'node24.json')).toBe(
      'node20.real.json: lane skipped: SNAPSHOTCTL_SKIP_REAL=1 (counted as 1 skipped)\n19 passed, 1 failed, 3 skipped\n',
    );
    expect(count(dir, 'node20.json', 'absent.json')).toBe('absent.json: no report: the lane did not finish (counted as 1 failed)\n10 passed, 1 failed, 2 skipped\n');
    writeFileSync(join(dir, 'crashed.json'), report(4, 0, 0, false));
    writeFileSync(join(dir, 'garbled.json'), '{"numPassed');
    expect(count(dir, 'crashed.json', 'garbled.json')).toBe(
      'crashed.json: the run failed outside any test (counted as 1 failed)\n' +
        'garbled.json: an unreadable report (not JSON): the lane did not finish (counted as 1 failed)\n' +
        '4 passed, 2 failed, 0 skipped\n',
    );
  });
});

describe('scripts/test.mjs and the real lane', () => {
  /** A tree where typecheck and vitest pass at once (vitest writes a report) and test-real.sh writes nothing. */
  function scratch(): string {
    const dir = tempDir('snapshotctl-test-mjs-');
    mkdirSync(join(dir, 'node_modules/typescript/bin'), { recursive: true });
    mkdirSync(join(dir, 'node_modules/vitest'), { recursive: true });
    mkdirSync(join(dir, 'scripts'));
    writeFileSync(join(dir, 'node_modules/typescript/bin/tsc'), 'process.exit(0);\n');
    writeFileSync(
      join(dir, 'node_modules/vitest/vitest.mjs'),
      `import { writeFileSync } from 'node:fs';\nconst o = process.argv.find((a) => a.startsWith('--outputFile='));\nif (o) writeFileSync(o.slice(13), ${JSON.stringify(report(3, 0, 1))});\n`,
    );
    writeFileSync(join(dir, 'scripts/test-real.sh'), 'echo "stand-in test-real.sh $*"\n');
    chmodSync(join(dir, 'scripts/test-real.sh'), 0o755);
    return dir;
  }

  function testMjs(dir: string, env: Record<string, string>): string {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    if (!('SNAPSHOTCTL_SKIP_REAL' in env)) delete childEnv['SNAPSHOTCTL_SKIP_REAL'];
    return execFileSync(process.execPath, [TEST_MJS, '--reporter=json', `--outputFile=${join(dir, 'node20.json')}`], { cwd: dir, env: childEnv, encoding: 'utf8' });
  }

  it('SNAPSHOTCTL_SKIP_REAL=1: says why and leaves the real report path plus .skipped, which counts as skipped', () => {
    const dir = scratch();
    const out = testMjs(dir, { SNAPSHOTCTL_SKIP_REAL: '1' });
    expect(out).toContain('test: the real-cluster lane was skipped: SNAPSHOTCTL_SKIP_REAL=1\n');
    expect(readFileSync(join(dir, 'node20.real.json.skipped'), 'utf8')).toBe('SNAPSHOTCTL_SKIP_REAL=1\n');
    expect(count(dir, 'node20.json', 'node20.real.json').trimEnd().split('\n').at(-1)).toBe('3 passed, 0 failed, 2 skipped');
  });

  const root = process.platform === 'linux' && process.getuid?.() === 0;

  it.skipIf(root)('without root on Linux: says so and leaves .skipped with that reason', () => {
    const dir = scratch();
    expect(testMjs(dir, {})).toContain('test: the real-cluster lane was skipped: it needs root on Linux (containerd and a kubelet)\n');
    expect(readFileSync(join(dir, 'node20.real.json.skipped'), 'utf8')).toBe('it needs root on Linux (containerd and a kubelet)\n');
  });

  it.skipIf(!root)('a lane that runs removes an earlier .skipped; when it leaves no report, that counts as failed', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'node20.real.json.skipped'), 'from an earlier run\n');
    const out = testMjs(dir, {});
    expect(out).toContain(`stand-in test-real.sh --reporter=json --outputFile=${join(dir, 'node20.real.json')}`);
    expect(existsSync(join(dir, 'node20.real.json.skipped'))).toBe(false);
    expect(count(dir, 'node20.json', 'node20.real.json').trimEnd().split('\n').at(-1)).toBe('3 passed, 1 failed, 1 skipped');
  });
});

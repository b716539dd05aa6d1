/**
 * The README's install path, end to end: pack the package as `npm pack` does, install
 * the tarball into a temporary global prefix (dependencies from the npm registry or the
 * npm cache), and run each bin by name from that prefix's bin/ on PATH, from a
 * directory outside the checkout, as a user (and kubectl) would.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../src/testing/temp-dir.js';
import { ROOT } from './harness.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; scripts: Record<string, string> };
/** npm's own settings for these runs: no notifier, audit or funding chatter, no colour. */
const NPM_ENV = { ...process.env, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false', NO_COLOR: '1' };
/** Errors that mean "no registry from here", not "the package is broken". */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH|network/i;

describe('install from a checkout: npm pack, then npm install -g the tarball', () => {
  const work = tempDir('snapshotctl-install-');
  const prefix = join(work, 'prefix');
  const home = join(work, 'home'); // outside the checkout: nothing resolves from its node_modules
  let skipped: string | undefined;
  let tarball = '';

  beforeAll(async () => {
    // --ignore-scripts: dist/ is fresh (test/e2e/setup.ts built it); prepack's rebuild
    // would rewrite dist/ under the other test files spawning bin/snapshotctl.js.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, env: NPM_ENV });
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    tarball = join(work, info!.filename);
    try {
      await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: work, env: NPM_ENV, timeout: 150_000 });
    } catch (err) {
      const text = `${(err as { stderr?: string }).stderr ?? ''}${(err as Error).message}`;
      if (!OFFLINE.test(text)) throw err;
      skipped = `the npm registry is unreachable and the npm cache lacks a dependency: ${text.split('\n').find((l) => OFFLINE.test(l)) ?? ''}`;
    }
  }, 180_000);

  const bin = async (name: string, args: string[]) => {
    const env = { ...NPM_ENV, PATH: `${join(prefix, 'bin')}:${process.env['PATH'] ?? ''}`, KUBECONFIG: join(work, 'no-kubeconfig') };
    return run(name, args, { cwd: work, env, encoding: 'utf8' });
  };

  it('the tarball holds what the bins run: every bin file, dist/, manifests/', async () => {
    expect(readdirSync(work).find((f) => f.endsWith('.tgz'))).toBe(`snapshotctl-${pkg.version}.tgz`);
    const files = (await run('tar', ['-tzf', tarball], { encoding: 'utf8' })).stdout.split('\n');
    for (const path of [...Object.values(pkg.bin), 'dist/cli/main.js', 'dist/agent/serve.js', 'manifests/agent-daemonset.yaml', 'package.json']) {
      expect(files, path).toContain(`package/${path}`);
    }
    // A plain `npm pack` or `npm publish` from a checkout builds dist/ first.
    expect(pkg.scripts['prepack']).toBe('npm run build');
  });

  it('installs snapshotctl, kubectl-snapshot, kubectl_complete-snapshot and snapshot-agent on PATH', (ctx) => {
    if (skipped) return ctx.skip(skipped);
    expect(Object.keys(pkg.bin).sort()).toEqual(['kubectl-snapshot', 'kubectl_complete-snapshot', 'snapshot-agent', 'snapshotctl']);
    for (const name of Object.keys(pkg.bin)) expect(existsSync(join(prefix, 'bin', name)), name).toBe(true);
    expect(existsSync(join(prefix, 'lib/node_modules/snapshotctl/dist/cli/main.js'))).toBe(true);
  });

  it('snapshotctl --version prints the package version', async (ctx) => {
    if (skipped) return ctx.skip(skipped);
    expect((await bin('snapshotctl', ['--version'])).stdout).toBe(`${pkg.version}\n`);
  });

  it('kubectl-snapshot --help says "Usage: kubectl snapshot"', async (ctx) => {
    if (skipped) return ctx.skip(skipped);
    expect((await bin('kubectl-snapshot', ['--help'])).stdout).toMatch(/^Usage: kubectl snapshot /);
  });

  it('snapshot-agent --help is the agent program', async (ctx) => {
    if (skipped) return ctx.skip(skipped);
    expect((await bin('snapshot-agent', ['--help'])).stdout).toMatch(/^Usage: snapshotctl agent /);
  });

  it('kubectl_complete-snapshot answers in cobra format', async (ctx) => {
    if (skipped) return ctx.skip(skipped);
    expect((await bin('kubectl_complete-snapshot', ['des'])).stdout).toBe('describe\n:4\n');
  });
});

/**
 * Help texts and printed hints: every command line they show must parse as a command of
 * this CLI (commander's own parser, nothing run).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { tempDir } from '../testing/temp-dir.js';
import { parseCommandLine } from './testing/parse-command.js';
import { runCli } from './testing/run-cli.js';

const ROOT = join(import.meta.dirname, '../..');

describe('parseCommandLine (the check the hint tests rely on)', () => {
  it.each([
    ['snapshotctl demo --engine criu', 'demo'],
    ['snapshotctl dev down', 'dev down'],
    ['kubectl snapshot list -n ml', 'list'],
  ] as const)('%s parses as %s', async (line, command) => {
    expect(await parseCommandLine(line)).toMatchObject({ command });
  });

  it.each([
    ['snapshotctl demo --runtime process', /unknown option '--runtime'/],
    ['snapshotctl demo --engine', /argument missing/],
    ['snapshotctl restor --pod x', /unknown command 'restor'/],
  ])('%s is refused', async (line, error) => {
    const r = await parseCommandLine(line);
    expect(r).toHaveProperty('error');
    expect((r as { error: string }).error).toMatch(error);
  });
});

/** Every command's `--help`, as a user sees it. */
async function helpOf(command: string[]): Promise<string> {
  const r = await runCli([...command, '--help']);
  expect(r.code).toBe(0);
  return r.stdout;
}

/** The example command lines of a help text, `\` continuations joined, comments dropped. */
function exampleLines(help: string): string[] {
  const examples = help.slice(help.indexOf('\nExamples:\n'));
  const out: string[] = [];
  let pending = '';
  for (const raw of examples.split('\n').slice(2)) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    const joined = `${pending} ${line}`.trim();
    if (joined.endsWith(' \\')) pending = joined.slice(0, -2);
    else {
      out.push(joined);
      pending = '';
    }
  }
  return out;
}

const COMMANDS = [['checkpoint'], ['restore'], ['validate'], ['preflight'], ['agent'], ['demo'], ['dev', 'up'], ['dev', 'status'], ['dev', 'down'], ['list'], ['describe'], ['delete'], ['hash']];

describe('--help examples', () => {
  it.each(COMMANDS)('%s: every example line is whole and parses as printed', async (...command) => {
    const help = await helpOf(command);
    expect(help).toContain('\nExamples:\n');
    const lines = help.slice(help.indexOf('\nExamples:\n')).split('\n');
    // A `\` lost in a template literal joins two lines with their indentation between.
    expect(lines.filter((l) => /\S {3,}-/.test(l.replace(/ {2,}#.*$/, '')))).toEqual([]);
    let parsed = 0;
    for (const line of exampleLines(help)) {
      const command = line.replace(/ {2,}#.*$/, '').replace(/ > \S+$/, '');
      if (!command.startsWith('snapshotctl ') || /[|"'$]/.test(command)) continue;
      expect(await parseCommandLine(command), command).toHaveProperty('command');
      parsed += 1;
    }
    expect(parsed).toBeGreaterThan(0);
  });

  it('restore --help names the sample placeholder by its real name', async () => {
    const sample = parseYaml(readFileSync(join(ROOT, 'manifests/samples/placeholder.yaml'), 'utf8')) as { metadata: { name: string } };
    const help = await helpOf(['restore']);
    expect(help).toContain(`# Restore into an existing placeholder pod (manifests/samples/placeholder.yaml)\n  snapshotctl restore --pod ${sample.metadata.name} `);
    expect(help).not.toMatch(/worker-placeholder/);
  });

  it('checkpoint --help shows an example manifest that checkpoint accepts', async () => {
    const help = await helpOf(['checkpoint']);
    const manifest = /\n\n( {2}apiVersion: v1\n[\s\S]*?)\n\n/.exec(help)?.[1];
    expect(manifest).toBeDefined();
    const text = manifest!.replace(/^ {2}/gm, '');
    expect(parseYaml(text)).toMatchObject({ kind: 'Pod', spec: { containers: [{ name: 'worker' }] } });
    const r = await runCli(['checkpoint', '--manifest', 'm.yaml', '--dry-run', '--pvc', 'snapshot-pvc', '--base-path', '/checkpoints', '--checkpoint-id', 'help-1'], { files: { 'm.yaml': text } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('the kubectl plugin', () => {
  it('kubectl snapshot --help (the kubectl-snapshot bin) says Usage: kubectl snapshot', () => {
    const dir = tempDir('snapshotctl-plugin-');
    const plugin = join(dir, 'kubectl-snapshot');
    symlinkSync(join(ROOT, 'bin/snapshotctl.js'), plugin);
    const help = execFileSync(process.execPath, [plugin, '--help'], { encoding: 'utf8' });
    expect(help).toMatch(/^Usage: kubectl snapshot \[options\] \[command\]\n/);
    const list = execFileSync(process.execPath, [plugin, 'list', '--help'], { encoding: 'utf8' });
    expect(list).toMatch(/^Usage: kubectl snapshot list\|ls \[options\]\n/);
    const direct = execFileSync(process.execPath, [join(ROOT, 'bin/snapshotctl.js'), '--help'], { encoding: 'utf8' });
    expect(direct).toMatch(/^Usage: snapshotctl \[options\] \[command\]\n/);
  });
});

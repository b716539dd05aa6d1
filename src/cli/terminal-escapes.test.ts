/**
 * Everything printed for people from input or the cluster has its control characters
 * escaped (a crafted Event must not retitle the window or rewrite a line); JSON and
 * YAML output stay exact.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { ApiError } from '../kube/errors.js';
import { RESOURCES } from '../kube/types.js';
import { ago, answerStorageScans, runCli, seedAgent, seedCheckpoint } from './testing/run-cli.js';

/** Retitles the window, erases the line, returns to its start and writes a fake one. */
const EVIL = '\u001b]0;pwned\u0007\r\u001b[2Kstatus: all good\u009b31m\u007f';
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function cluster(): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedAgent(c);
  answerStorageScans(c);
  seedCheckpoint(c, 'ck-a', { pod: 'worker-a', verdict: 'failed', minutesAgo: 30 });
  c.update(RESOURCES.jobs, 'default', 'worker-a-checkpoint', (j) => {
    j.status = { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: EVIL }] } as never;
  });
  c.seed(RESOURCES.events, {
    metadata: { name: 'e1', namespace: 'default' },
    involvedObject: { kind: 'Job', name: 'worker-a-checkpoint' },
    type: 'Warning',
    reason: `CheckpointFailed${EVIL}`,
    message: `checkpoint failed\n${EVIL}`,
    lastTimestamp: ago(29),
  });
  c.seed(RESOURCES.dynamocheckpoints, {
    apiVersion: 'nvidia.com/v1alpha1',
    kind: 'DynamoCheckpoint',
    metadata: { name: 'odd', namespace: 'default', creationTimestamp: ago(5) },
    status: { phase: 'Failed', identityHash: `h${EVIL}`, message: EVIL },
  });
  return c;
}

describe('human output escapes control characters', () => {
  it('describe: Event reason and message, Job condition', async () => {
    const r = await runCli(['describe', 'ck-a', '--no-artifact'], { client: cluster() });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain('checkpoint failed \\x1b]0;pwned\\x07\\x0d\\x1b[2Kstatus: all good\\x9b31m\\x7f');
    expect(r.stderr).not.toMatch(RAW);
  });

  it('describe of a DynamoCheckpoint with a crafted hash and message, and its warnings on stderr', async () => {
    const r = await runCli(['describe', 'odd'], { client: cluster() });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stdout).toContain('\\x1b]0;pwned');
  });

  it('list: table, wide and name; json and yaml stay exact', async () => {
    for (const o of ['table', 'wide', 'name']) {
      const r = await runCli(['list', '-o', o], { client: cluster() });
      expect(r.code, o).toBe(0);
      expect(r.stdout, o).not.toMatch(RAW);
    }
    const json = await runCli(['list', '-o', 'json'], { client: cluster() });
    const items = (JSON.parse(json.stdout) as { items: Array<{ id: string; reason: string | null }> }).items;
    expect(items.map((i) => i.id)).toContain(`h${EVIL}`);
    const yaml = await runCli(['list', '-o', 'yaml'], { client: cluster() });
    expect((parseYaml(yaml.stdout) as { items: Array<{ id: string }> }).items.map((i) => i.id)).toContain(`h${EVIL}`);
  });

  it('delete: the confirmation question and the per-ID lines', async () => {
    const c = cluster();
    const r = await runCli(['delete', '--all'], { client: c, stdinIsTTY: true, answer: 'y' });
    expect(r.prompts.join('')).not.toMatch(RAW);
    expect(r.prompts.join('')).toContain('h\\x1b]0;pwned');
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stderr).not.toMatch(RAW);
  });

  it("a manifest's kind: checkpoint's error and validate's text report; validate -o json stays exact", async () => {
    const text = `apiVersion: v1\nkind: "Deploy\\e]0;pwned\\a\\rment"\nmetadata: {name: w}\n`;
    const files = { 'w.yaml': text };
    const c = await runCli(['checkpoint', '--manifest', 'w.yaml', '--dry-run', '--pvc', 'p', '--base-path', '/c'], { files });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('SNAP002');
    expect(c.stderr).not.toMatch(RAW);
    expect(c.stderr).toContain('your Deploy\\x1b]0;pwned\\x07\\x0dment into');
    const v = await runCli(['validate', 'w.yaml'], { files });
    expect(v.code).toBe(2);
    expect(v.stdout).not.toMatch(RAW);
    const j = await runCli(['validate', '-o', 'json', 'w.yaml'], { files });
    const finding = (JSON.parse(j.stdout) as { files: Array<{ findings: Array<{ rule: string; message: string }> }> }).files[0]!.findings.find((f) => f.rule === 'SNAP002');
    expect(finding?.message).toContain('your Deploy\u001b]0;pwned\u0007\rment into');
  });

  it('an API error message and the kv result of a failed run', async () => {
    const c = new FakeKubeClient('default');
    seedAgent(c);
    c.failWith = (call) =>
      call.verb === 'create' ? new ApiError({ verb: 'create', resource: RESOURCES.jobs, namespace: 'default', status: 422, reason: 'Invalid', message: `bad\n${EVIL}` }) : undefined;
    const worker = 'apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec:\n  restartPolicy: Never\n  containers:\n    - name: main\n      image: registry.example.com/vllm-placeholder:1\n      command: [sleep]\n';
    const r = await runCli(['checkpoint', '--manifest', 'w.yaml', '--checkpoint-id', 'ck-1'], { client: c, files: { 'w.yaml': worker } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('\\x1b]0;pwned');
    expect(r.stderr).not.toMatch(RAW);
  });
});

it("commander's usage errors quote the typed flag escaped", async () => {
  const r = await runCli(['list', `--bogus${EVIL}`]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("unknown option '--bogus\\x1b]0;pwned");
  expect(r.stderr).not.toMatch(RAW);
});

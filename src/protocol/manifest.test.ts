/**
 * Manifest rules (docs/protocol.md §3) and the command rule of §4 ("an empty command with
 * wrapping on is an error"), on YAML/JSON text and fixtures.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RULES, checkForCheckpoint, checkPodObject, parsePodManifest } from './manifest.js';
import type { Pod } from './types.js';

function fixture(name: string): string {
  return readFileSync(new URL(`../../test/fixtures/manifests/${name}`, import.meta.url), 'utf8');
}

/** A Pod manifest as YAML text, with the parts a case changes. */
function podYaml(parts: { head?: string; name?: string | null; containers?: string }): string {
  const head = parts.head ?? 'apiVersion: v1\nkind: Pod\n';
  const meta = parts.name === null ? 'metadata:\n  labels: {app: x}\n' : `metadata:\n  name: ${parts.name ?? 'worker'}\n`;
  const containers = parts.containers ?? '    - name: worker\n      image: placeholder:1\n      command: [python3]\n';
  return `${head}${meta}spec:\n  containers:\n${containers}`;
}

const TWO_CONTAINERS =
  '    - name: worker\n      image: placeholder:1\n    - name: sidecar\n      image: envoy:1\n';

describe('parsePodManifest: accepted manifests', () => {
  it.each<[string, string]>([
    ['kind Pod', podYaml({})],
    ['kind omitted', podYaml({ head: 'apiVersion: v1\n' })],
    ['kind empty string', podYaml({ head: 'apiVersion: v1\nkind: ""\n' })],
    ['one document after a leading ---', `---\n${podYaml({})}`],
    // A trailing `---` (common in generated YAML) opens an empty document, not a second Pod.
    ['one document followed by an empty one', `${podYaml({})}---\n`],
    ['JSON text', fixture('minimal-pod.json')],
    ['the full worker fixture', fixture('worker-pod.yaml')],
  ])('%s', (_why, text) => {
    const result = parsePodManifest(text);
    expect(result.findings).toEqual([]);
    expect(result.pod).toBeDefined();
  });

  // docs/protocol.md §3: "kind empty or Pod". `kind:` with no value is an empty kind in YAML
  // (null); a Go v1.0.x CLI decodes it to "" and accepts it.
  it('kind with an empty YAML value (`kind:`) is accepted as an empty kind', () => {
    const result = parsePodManifest(podYaml({ head: 'apiVersion: v1\nkind:\n' }));
    expect(result.findings).toEqual([]);
    expect(result.pod).toBeDefined();
  });

  it('returns the manifest as written: initContainers and every other field untouched', () => {
    const text = fixture('worker-pod.yaml');
    const result = parsePodManifest(text);
    expect(result.pod).toEqual(parse(text));
    expect(result.pod?.spec.initContainers).toEqual([
      {
        name: 'fetch-weights',
        image: 'busybox:1.36',
        command: ['sh', '-c', 'echo fetch'],
        volumeMounts: [{ name: 'models', mountPath: '/models' }],
      },
    ]);
  });

  it('initContainers are not subject to the one-container or image rules', () => {
    const text = podYaml({}).replace(
      'spec:\n',
      'spec:\n  initContainers:\n    - name: a\n    - name: b\n      image: ""\n',
    );
    expect(parsePodManifest(text).findings).toEqual([]);
  });
});

interface Refusal {
  why: string;
  text: string;
  /** [rule, field path] of every finding, in order. */
  expected: Array<[string, string]>;
}

const REFUSED: Refusal[] = [
  { why: 'a Deployment', text: fixture('deployment.yaml'), expected: [[RULES.kind, 'kind']] },
  { why: 'kind Service', text: podYaml({ head: 'apiVersion: v1\nkind: Service\n' }), expected: [[RULES.kind, 'kind']] },
  { why: 'kind in the wrong case', text: podYaml({ head: 'apiVersion: v1\nkind: pod\n' }), expected: [[RULES.kind, 'kind']] },
  { why: 'two documents', text: fixture('two-documents.yaml'), expected: [[RULES.document, '']] },
  { why: 'empty text', text: '', expected: [[RULES.document, '']] },
  { why: 'only a comment', text: '# nothing here\n', expected: [[RULES.document, '']] },
  { why: 'a scalar document', text: 'just a string\n', expected: [[RULES.document, '']] },
  { why: 'a list document', text: '- a\n- b\n', expected: [[RULES.document, '']] },
  { why: 'broken YAML', text: 'metadata: {name: [\n', expected: [[RULES.document, '']] },
  { why: 'metadata.name missing', text: podYaml({ name: null }), expected: [[RULES.name, 'metadata.name']] },
  { why: 'metadata.name empty', text: podYaml({ name: '""' }), expected: [[RULES.name, 'metadata.name']] },
  { why: 'no metadata at all', text: 'kind: Pod\nspec:\n  containers:\n    - name: w\n      image: i\n', expected: [[RULES.name, 'metadata.name']] },
  { why: 'zero containers', text: podYaml({ containers: '    []\n' }).replace('containers:\n    []', 'containers: []'), expected: [[RULES.containerCount, 'spec.containers']] },
  { why: 'two containers', text: podYaml({ containers: TWO_CONTAINERS }), expected: [[RULES.containerCount, 'spec.containers']] },
  { why: 'no spec', text: 'kind: Pod\nmetadata:\n  name: w\n', expected: [[RULES.containerCount, 'spec.containers']] },
  {
    why: 'image missing',
    text: podYaml({ containers: '    - name: worker\n' }),
    expected: [[RULES.image, 'spec.containers[0].image']],
  },
  {
    why: 'image empty',
    text: podYaml({ containers: '    - name: worker\n      image: ""\n' }),
    expected: [[RULES.image, 'spec.containers[0].image']],
  },
  {
    why: 'name missing and two containers: both reported together',
    text: podYaml({ name: null, containers: TWO_CONTAINERS }),
    expected: [
      [RULES.name, 'metadata.name'],
      [RULES.containerCount, 'spec.containers'],
    ],
  },
  {
    why: 'name missing and image missing: both reported together',
    text: podYaml({ name: null, containers: '    - name: worker\n' }),
    expected: [
      [RULES.name, 'metadata.name'],
      [RULES.image, 'spec.containers[0].image'],
    ],
  },
];

describe('parsePodManifest: refused manifests (nothing returned, every problem listed)', () => {
  it.each(REFUSED)('$why', ({ text, expected }) => {
    const result = parsePodManifest(text);
    expect(result.pod).toBeUndefined();
    expect(result.findings.map((f) => [f.rule, f.path])).toEqual(expected);
    for (const f of result.findings) {
      expect(f.severity).toBe('error');
      expect(f.message.length).toBeGreaterThan(0);
    }
  });

  it.each([
    ['an alias to an anchor that does not exist', 'apiVersion: v1\nkind: Pod\nmetadata: *missing\n', /Unresolved alias/],
    ['an alias expanding past the alias limit (billion laughs)', `a: &a [x, x, x, x]\n${'bcdefghij'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(', ')}]`).join('\n')}\n`, /alias/i],
  ])('%s: a document finding, not an exception', (_why, text, message) => {
    const result = parsePodManifest(text);
    expect(result.pod).toBeUndefined();
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]?.rule).toBe(RULES.document);
    expect(result.findings[0]?.message).toMatch(message);
  });

  it('the Deployment refusal names the kind it got', () => {
    const [f] = parsePodManifest(fixture('deployment.yaml')).findings;
    expect(f?.message).toContain('Deployment');
  });
});

describe('checkPodObject: names (our extension, §9 "names are not sanitised")', () => {
  const pod = (name: string) => ({ kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'w', image: 'i' }] } });
  it.each<[string, string, boolean]>([
    ['lower-case DNS name', 'vllm-worker.a1', true],
    ['52 characters: Job name is 63', 'a'.repeat(52), true],
    ['53 characters: Job name would be 64', 'a'.repeat(53), false],
    ['upper case', 'Worker', false],
    ['underscore', 'my_worker', false],
  ])('%s → %s', (_why, name, ok) => {
    expect(checkPodObject(pod(name)).length === 0).toBe(ok);
  });
});

describe('checkForCheckpoint: command wrapping needs a command (§4)', () => {
  const withContainer = (container: Record<string, unknown>): Pod =>
    ({ kind: 'Pod', metadata: { name: 'w' }, spec: { containers: [{ name: 'w', image: 'i', ...container }] } }) as Pod;

  it.each<[string, Record<string, unknown>, boolean, string[]]>([
    ['command set, wrapping on', { command: ['python3'] }, true, []],
    ['no command, wrapping on', {}, true, ['spec.containers[0].command']],
    ['empty command, wrapping on', { command: [] }, true, ['spec.containers[0].command']],
    ['args but no command, wrapping on', { args: ['--x'] }, true, ['spec.containers[0].command']],
    ['no command, wrapping off', {}, false, []],
    ['empty command, wrapping off', { command: [] }, false, []],
  ])('%s → %j', (_why, container, requireCommand, paths) => {
    const findings = checkForCheckpoint(withContainer(container), { requireCommand });
    expect(findings.map((f) => f.path)).toEqual(paths);
  });

  it('the empty-command error names --disable-cuda-checkpoint-job-file (cuda-checkpoint 580.x lacks --launch-job)', () => {
    const [f] = checkForCheckpoint(withContainer({}), { requireCommand: true });
    expect(f?.rule).toBe(RULES.command);
    expect(f?.message).toContain('--disable-cuda-checkpoint-job-file');
  });

  it.each<[string, number]>([
    ['manual-snapshot-1743712345678901234', 0],
    ['a/b', 1],
    ['-bad', 1],
    ['', 1],
  ])('checkpoint ID %j → %i finding(s) on --checkpoint-id', (id, count) => {
    const findings = checkForCheckpoint(withContainer({ command: ['x'] }), { requireCommand: true, checkpointId: id });
    expect(findings.length).toBeGreaterThanOrEqual(count);
    if (count === 0) expect(findings).toEqual([]);
    for (const f of findings) expect([f.rule, f.path]).toEqual([RULES.checkpointId, '--checkpoint-id']);
  });

  it('command and ID problems are reported together', () => {
    const findings = checkForCheckpoint(withContainer({}), { requireCommand: true, checkpointId: 'a/b' });
    expect(findings.map((f) => f.rule)).toContain(RULES.command);
    expect(findings.map((f) => f.rule)).toContain(RULES.checkpointId);
  });
});

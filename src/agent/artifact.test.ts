/**
 * The artifact directory as untrusted input: anyone who can write the checkpoint PVC
 * (a restore pod mounts it) can plant links, odd files and garbage there, and the agent
 * reading it runs as root.
 */
import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../protocol/types.js';
import { readArtifactManifest } from './artifact.js';
import { createCriuEngine, META_FILE } from './criu/engine.js';
import { createCudaEngine, CUDA_META_FILE } from './cuda/engine.js';
import type { RestoreContext, SnapshotEngine } from './engine.js';
import { createSimEngine, SIM_STATE_FILE } from './sim-engine.js';

/** Bytes that must never show up in a message. */
const SECRET = 'TOP-SECRET-ROOT-ONLY-a1b2c3';

let work: string;
let dir: string;
let secretFile: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'artifact-test-'));
  dir = join(work, 'checkpoints', 'ck', 'versions', '1');
  await mkdir(dir, { recursive: true });
  secretFile = join(work, 'shadow');
  await writeFile(secretFile, `${SECRET}:$6$salt$hash:19000:0:99999:7:::\n`);
  await chmod(secretFile, 0o600);
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Not the secret, nor its first bytes (JSON.parse quotes about ten). */
function expectNoSecret(msg: string): void {
  expect(msg).not.toContain(SECRET.slice(0, 5));
}

async function messageOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a rejection');
}

function restoreCtx(): RestoreContext {
  const ref = { namespace: 'ml', podName: 'p', podUid: 'u', containerName: 'c', signal: async () => {} };
  return { pod: {} as Pod, placeholder: ref, checkpointId: 'ck', nodeName: 'n', artifactDir: dir, manifest: {}, log: () => {}, signal: new AbortController().signal };
}

describe('(c) manifest.yaml: errors name the file and the problem, never its bytes', () => {
  it.each([
    ['not YAML', `${SECRET}: [unclosed\n  - {`, /manifest\.yaml is not valid YAML/],
    ['a YAML scalar, not a mapping', `${SECRET}\n`, /manifest\.yaml is not a YAML mapping/],
    ['a YAML list', `- ${SECRET}\n`, /manifest\.yaml is not a YAML mapping/],
    ['duplicate keys', `a: ${SECRET}\na: 2\n`, /manifest\.yaml is not valid YAML/],
  ])('%s', async (_why, text, expected) => {
    await writeFile(join(dir, 'manifest.yaml'), text);
    const msg = await messageOf(readArtifactManifest(dir));
    expect(msg).toMatch(expected);
    expect(msg).toContain(join(dir, 'manifest.yaml'));
    expectNoSecret(msg);
  });

  it('a symbolic link to a root-only file is refused without reading it', async () => {
    await symlink(secretFile, join(dir, 'manifest.yaml'));
    const msg = await messageOf(readArtifactManifest(dir));
    expect(msg).toMatch(/manifest\.yaml is a symbolic link/);
    expectNoSecret(msg);
  });

  it('a hard link to a file outside the artifact is refused', async () => {
    await link(secretFile, join(dir, 'manifest.yaml'));
    const msg = await messageOf(readArtifactManifest(dir));
    expect(msg).toMatch(/manifest\.yaml has more than one hard link/);
    expectNoSecret(msg);
  });

  it('a FIFO does not hang the agent', async () => {
    execFileSync('mkfifo', [join(dir, 'manifest.yaml')]);
    expect(await messageOf(readArtifactManifest(dir))).toMatch(/manifest\.yaml is not a regular file/);
  });

  it('a directory in its place', async () => {
    await mkdir(join(dir, 'manifest.yaml'));
    expect(await messageOf(readArtifactManifest(dir))).toMatch(/manifest\.yaml is not a regular file/);
  });

  it('a missing file', async () => {
    expect(await messageOf(readArtifactManifest(dir))).toMatch(/manifest\.yaml is missing/);
  });

  it('a huge file is not read whole', async () => {
    await writeFile(join(dir, 'manifest.yaml'), `a: ${'x'.repeat(5 * 1024 * 1024)}\n`);
    expect(await messageOf(readArtifactManifest(dir))).toMatch(/manifest\.yaml is larger than/);
  });

  it('a good manifest still reads', async () => {
    await writeFile(join(dir, 'manifest.yaml'), '# header\ncheckpointId: ck\nnamespace: ml\n');
    expect(await readArtifactManifest(dir)).toEqual({ checkpointId: 'ck', namespace: 'ml' });
  });
});

describe("(c) engines' JSON files: errors name the file and the problem, never its bytes", () => {
  const engines: Array<[string, () => SnapshotEngine, string]> = [
    ['sim', () => createSimEngine(), SIM_STATE_FILE],
    ['criu', () => createCriuEngine({ criu: { argv: ['/bin/false'], source: 'test' } }), META_FILE],
    ['cuda', () => createCudaEngine({ criu: { argv: ['/bin/false'], source: 'test' } }), CUDA_META_FILE],
  ];

  it.each(engines)('%s: garbage in its file', async (_name, make, file) => {
    await writeFile(join(dir, file), `${SECRET} is not json\n`);
    const msg = await messageOf(make().restore(restoreCtx()));
    expect(msg).toContain(file);
    expect(msg).toMatch(/is not valid JSON/);
    expectNoSecret(msg);
  });

  it.each(engines)('%s: its file a symbolic link to a root-only file', async (_name, make, file) => {
    await symlink(secretFile, join(dir, file));
    const msg = await messageOf(make().restore(restoreCtx()));
    expect(msg).toMatch(/is a symbolic link/);
    expectNoSecret(msg);
  });
});

/**
 * The artifact directory as untrusted input: anyone who can write the checkpoint PVC
 * (a restore pod mounts it) can plant links, odd files and garbage there, and the agent
 * reading it runs as root.
 */
import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../protocol/types.js';
import {
  ArtifactTakenError,
  artifactExists,
  createStaging,
  publishArtifact,
  readArtifactManifest,
  removeStaging,
  resolveUnderBase,
  UnsafeArtifactPathError,
  type ArtifactManifest,
} from './artifact.js';
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

describe('(b) paths under the base path', () => {
  const base = () => join(work, 'checkpoints');
  const manifest = (id: string): ArtifactManifest => ({
    checkpointId: id,
    artifactVersion: '1',
    createdAt: '2025-01-01T00:00:00.000Z',
    nodeName: 'n',
    namespace: 'ml',
    pod: 'p',
    podUid: 'u',
    container: 'c',
    simulated: true,
    engine: { name: 'sim', simulated: true },
  });

  it.each([['..'], ['.'], [''], ['a/b'], ['a\\b'], ['a\0b']])('segment %j is refused', async (segment) => {
    await expect(resolveUnderBase(base(), ['ck', segment])).rejects.toThrow(UnsafeArtifactPathError);
  });

  it('walks real directories, reports a missing one, refuses a link or a file', async () => {
    expect(await resolveUnderBase(base(), ['ck', 'versions', '1'])).toBe(dir);
    expect(await resolveUnderBase(base(), ['ck', 'nope'])).toBeUndefined();
    await symlink(work, join(base(), 'link'));
    await expect(resolveUnderBase(base(), ['link', 'versions'])).rejects.toThrow(/link is a symbolic link/);
    await writeFile(join(base(), 'file'), '');
    await expect(resolveUnderBase(base(), ['file', 'versions'], true)).rejects.toThrow(/file is not a directory/);
  });

  it('createStaging and publishArtifact: staged, then renamed into place, nothing left beside it', async () => {
    const staging = await createStaging(base(), 'fresh');
    await writeFile(join(staging, 'data'), 'x');
    expect(await publishArtifact(base(), staging, manifest('fresh'))).toBe(join(base(), 'fresh', 'versions', '1'));
    expect(await artifactExists(base(), 'fresh')).toBe(true);
    expect(await readdir(join(base(), 'fresh', 'versions'))).toEqual(['1']);
  });

  it('two writers of one ID and version: the first to publish keeps it, the second gets ArtifactTakenError naming the first, its staging left to remove', async () => {
    const first = await createStaging(base(), 'twice', '1', 'job-a');
    const second = await createStaging(base(), 'twice', '1', 'job-b');
    await writeFile(join(first, 'data'), 'first');
    await writeFile(join(second, 'data'), 'second');
    await publishArtifact(base(), first, { ...manifest('twice'), pod: 'worker-a', createdAt: '2026-12-03T11:00:00Z' });
    const err = await publishArtifact(base(), second, { ...manifest('twice'), pod: 'worker-b' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactTakenError);
    expect((err as Error).message).toMatch(/checkpoint ID twice \(version 1\) was published by another checkpoint first \(from pod ml\/worker-a.*written 2026-12-03T11:00:00Z\)/);
    expect(await readFile(join(base(), 'twice', 'versions', '1', 'data'), 'utf8')).toBe('first');
    await removeStaging(base(), 'twice', second);
    expect(await readdir(join(base(), 'twice', 'versions'))).toEqual(['1']);
  });

  it('publishArtifact refuses a staging directory that is not one of its own', async () => {
    await expect(publishArtifact(base(), join(work, 'elsewhere'), manifest('ck'))).rejects.toThrow(/is not a staging directory/);
    await expect(removeStaging(base(), 'ck', work)).rejects.toThrow(/is not a staging directory/);
    expect((await stat(work)).isDirectory()).toBe(true);
  });

  it('publishArtifact refuses a planted manifest.yaml link in staging and does not write through it', async () => {
    const staging = await createStaging(base(), 'planted');
    await symlink(secretFile, join(staging, 'manifest.yaml'));
    await expect(publishArtifact(base(), staging, manifest('planted'))).rejects.toThrow(/already exists/);
    expect(await readFile(secretFile, 'utf8')).toContain(SECRET);
  });

  it('artifactExists refuses a link on the way and a linked manifest', async () => {
    await symlink(join(base(), 'ck'), join(base(), 'alias'));
    await expect(artifactExists(base(), 'alias')).rejects.toThrow(/alias is a symbolic link/);
    await symlink(secretFile, join(dir, 'manifest.yaml'));
    await expect(artifactExists(base(), 'ck')).rejects.toThrow(/manifest\.yaml is a symbolic link/);
    expect(await artifactExists(base(), 'missing')).toBe(false);
  });
});

describe('(b) the criu engine restores nothing through a link in the artifact', () => {
  it.each([
    ['criu', 'the images folder'],
    ['workdir', 'the saved working directory'],
  ])('%s (%s) a link out of the artifact is refused before anything is copied', async (entry) => {
    const outside = join(work, 'root-home');
    await mkdir(outside);
    await writeFile(join(outside, 'id_rsa'), SECRET);
    await mkdir(join(dir, 'criu'));
    await rm(join(dir, entry), { recursive: true, force: true });
    await symlink(outside, join(dir, entry));
    await writeFile(join(dir, META_FILE), JSON.stringify({ engine: 'criu', criuVersion: '4.1', root: 1, pids: [], tids: [], shellJob: false, remap: [], dumpSeconds: 0 }));
    const target = join(work, 'placeholder-workdir');
    await mkdir(target);
    const engine = createCriuEngine({
      criu: { argv: ['/bin/false'], source: 'test' },
      runtime: { inspect: () => ({ pid: 1, workDir: target }), adopt: () => {} },
    });
    const msg = await messageOf(engine.restore(restoreCtx()));
    expect(msg).toContain(`${join(dir, entry)} is a symbolic link`);
    expect(await readdir(target)).toEqual([]);
  });
});

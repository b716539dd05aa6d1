/**
 * The storage scan script itself, run by this machine's `sh` on a directory laid out as
 * the agent writes artifacts, and the parser of what it prints: the same script the
 * reader pod runs (busybox there), so what these tests see is what a cluster sees.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../testing/temp-dir.js';
import { parseStorageScan, STORAGE_SCAN_MARKER, STORAGE_SCAN_SCRIPT, storageScanCommand } from './storage-scan.js';

const MANIFEST = (id: string, extra = '') => `# Checkpoint artifact written by the snapshotctl snapshot agent.
checkpointId: ${id}
artifactVersion: "1"
createdAt: 2026-12-01T10:00:00.000Z
nodeName: gpu-node-3
namespace: ml
pod: llama-checkpoint-x7k2p
podUid: 0b6f
container: worker
simulated: false
engine:
  name: cuda
  simulated: false
  details:
    name: not-this-one
bytes: 17179869184
${extra}`;

function artifact(root: string, id: string, version = '1', manifest: string | null = MANIFEST(id), bytes = 10_000): string {
  const dir = join(root, id, 'versions', version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pages-1.img'), Buffer.alloc(bytes));
  if (manifest !== null) writeFileSync(join(dir, 'manifest.yaml'), manifest);
  return dir;
}

function scan(root: string): string {
  const out = join(root, '..', 'scan-out');
  return execFileSync('sh', ['-c', STORAGE_SCAN_SCRIPT, 'storage-scan', root, out], { encoding: 'utf8' });
}

describe('storage scan', () => {
  const tmp = (): string => tempDir('snapshotctl-scan-');

  it('one line per version directory, with the manifest fields the catalogue shows', () => {
    const root = join(tmp(), 'checkpoints');
    const dir = artifact(root, 'llama-8b-v1');
    artifact(root, 'llama-8b-v1', '2', MANIFEST('llama-8b-v1').replace('2026-12-01T10', '2026-12-02T10'));
    artifact(root, 'from-dynamo', '1', null, 5000);
    utimesSync(dir, new Date('2026-12-01T10:00:05Z'), new Date('2026-12-01T10:00:05Z'));
    const listing = parseStorageScan(scan(root), 'log');
    expect(listing.complete).toBe(true);
    expect(listing.problems).toEqual([]);
    const byKey = Object.fromEntries(listing.artifacts.map((a) => [`${a.id}/${a.version}`, a]));
    expect(Object.keys(byKey).sort()).toEqual(['from-dynamo/1', 'llama-8b-v1/1', 'llama-8b-v1/2']);
    expect(byKey['llama-8b-v1/1']).toEqual({
      id: 'llama-8b-v1',
      version: '1',
      bytes: expect.any(Number),
      modifiedAt: '2026-12-01T10:00:05.000Z',
      hasManifest: true,
      namespace: 'ml',
      pod: 'llama-checkpoint-x7k2p',
      node: 'gpu-node-3',
      createdAt: '2026-12-01T10:00:00.000Z',
      engine: 'cuda',
      simulated: false,
    });
    expect(byKey['llama-8b-v1/1']!.bytes).toBeGreaterThanOrEqual(10_000);
    expect(byKey['llama-8b-v1/2']!.createdAt).toBe('2026-12-02T10:00:00.000Z');
    expect(byKey['from-dynamo/1']).toMatchObject({ hasManifest: false, namespace: null, pod: null, createdAt: null, engine: null });
  });

  it('an empty volume, and one without the base directory', () => {
    const root = join(tmp(), 'empty');
    mkdirSync(root);
    expect(parseStorageScan(scan(root), 'log')).toEqual({ artifacts: [], complete: true, via: 'log', problems: [] });
    expect(() => scan(join(tmp(), 'missing'))).toThrow(/cannot open the checkpoint volume/);
  });

  it('never follows a symbolic link: linked IDs, versions folders, versions and manifests are not read', () => {
    const root = join(tmp(), 'checkpoints');
    const outside = join(tmp(), 'outside');
    artifact(outside, 'secret');
    artifact(root, 'real');
    symlinkSync(join(outside, 'secret'), join(root, 'linked-id'));
    mkdirSync(join(root, 'linked-versions'));
    symlinkSync(join(outside, 'secret', 'versions'), join(root, 'linked-versions', 'versions'));
    mkdirSync(join(root, 'linked-version', 'versions'), { recursive: true });
    symlinkSync(join(outside, 'secret', 'versions', '1'), join(root, 'linked-version', 'versions', '1'));
    const dir = artifact(root, 'linked-manifest', '1', null);
    symlinkSync(join(outside, 'secret', 'versions', '1', 'manifest.yaml'), join(dir, 'manifest.yaml'));
    const listing = parseStorageScan(scan(root), 'log');
    expect(listing.artifacts.map((a) => a.id).sort()).toEqual(['linked-manifest', 'real']);
    expect(listing.artifacts.find((a) => a.id === 'linked-manifest')).toMatchObject({ hasManifest: false, namespace: null });
  });

  it('staging directories (dot names) are not artifacts', () => {
    const root = join(tmp(), 'checkpoints');
    artifact(root, 'done');
    mkdirSync(join(root, 'done', 'versions', '.staging-2-abc'), { recursive: true });
    mkdirSync(join(root, '.hidden', 'versions', '1'), { recursive: true });
    expect(parseStorageScan(scan(root), 'log').artifacts.map((a) => `${a.id}/${a.version}`)).toEqual(['done/1']);
  });

  it('what storage says is data: IDs that are no checkpoint ID, and names that are no names, are left out or blanked', () => {
    const root = join(tmp(), 'checkpoints');
    artifact(root, 'bad id with spaces');
    artifact(root, 'ok', '1', MANIFEST('ok').replace('namespace: ml', 'namespace: "ml\\u001b[2J"').replace('nodeName: gpu-node-3', 'nodeName: ../../etc'));
    const listing = parseStorageScan(scan(root), 'log');
    expect(listing.artifacts.map((a) => a.id)).toEqual(['ok']);
    expect(listing.artifacts[0]).toMatchObject({ namespace: null, node: null, pod: 'llama-checkpoint-x7k2p' });
    expect(listing.problems).toEqual([expect.stringContaining('is not a checkpoint ID and version')]);
    // Every line was read: the listing is whole, the odd directory is named for a warning.
    expect(listing.complete).toBe(true);
  });

  it('a listing cut by the 4 KiB termination message is incomplete, and its cut line is not an artifact', () => {
    const root = join(tmp(), 'checkpoints');
    for (let i = 0; i < 40; i++) artifact(root, `checkpoint-number-${String(i).padStart(2, '0')}`, '1', MANIFEST(`c${i}`), 10);
    const full = scan(root);
    expect(full.length).toBeGreaterThan(4096);
    const cut = parseStorageScan(full.slice(0, 4096), 'message');
    expect(cut.complete).toBe(false);
    expect(cut.problems).toEqual([]);
    expect(cut.artifacts.length).toBeGreaterThan(10);
    expect(cut.artifacts.length).toBeLessThan(40);
    expect(cut.artifacts.every((a) => a.hasManifest && a.engine === 'cuda')).toBe(true);
    expect(parseStorageScan(full, 'log')).toMatchObject({ complete: true });
  });

  it('the reader command, its script beginning with the marker', () => {
    expect(storageScanCommand('/checkpoints')).toEqual(['sh', '-c', STORAGE_SCAN_SCRIPT, 'storage-scan', '/checkpoints', '/dev/termination-log']);
    expect(STORAGE_SCAN_SCRIPT.split('\n')[0]).toBe(STORAGE_SCAN_MARKER);
  });
});

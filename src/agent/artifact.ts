/**
 * The artifact directory on checkpoint storage: `<root>/<id>/versions/1/` holding the
 * engine's files and `manifest.yaml`. Written in a staging directory and renamed into
 * place, so its existence means it is complete.
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify, parse } from 'yaml';
import { ARTIFACT_MANIFEST_FILE, ARTIFACT_VERSION } from '../protocol/constants.js';

/** Why a checkpoint ID cannot be a path segment, or undefined when it can (§7). */
export function unsafeIdReason(id: string): string | undefined {
  if (id === '') return 'the checkpoint ID is empty';
  if (id.includes('/') || id.includes('\\')) return `checkpoint ID ${JSON.stringify(id)} contains a path separator`;
  if (id.includes('..')) return `checkpoint ID ${JSON.stringify(id)} contains ".."`;
  return undefined;
}

/** `<root>/<id>/versions/1`. The caller has checked the ID with `unsafeIdReason`. */
export function artifactDir(storageRoot: string, checkpointId: string): string {
  return join(storageRoot, checkpointId, 'versions', ARTIFACT_VERSION);
}

/** What `manifest.yaml` records about a checkpoint. */
export interface ArtifactManifest {
  checkpointId: string;
  artifactVersion: string;
  createdAt: string;
  nodeName: string;
  namespace: string;
  pod: string;
  podUid: string;
  container: string;
  containerId?: string;
  image?: string;
  /** True when no process state was saved (the sim engine). */
  simulated: boolean;
  engine: { name: string; simulated: boolean; details?: Record<string, unknown> };
  bytes?: number;
}

/** A fresh staging directory next to where the artifact will live (same filesystem, so rename is atomic). */
export async function createStaging(storageRoot: string, checkpointId: string): Promise<string> {
  const versions = join(storageRoot, checkpointId, 'versions');
  await mkdir(versions, { recursive: true });
  return mkdtemp(join(versions, `.staging-${ARTIFACT_VERSION}-`));
}

/**
 * Write `manifest.yaml` into `staging` and move it to its final place, replacing an
 * older artifact of the same ID (a new checkpoint Job with a reused ID wins).
 */
export async function publishArtifact(staging: string, finalDir: string, manifest: ArtifactManifest): Promise<void> {
  const header =
    '# Checkpoint artifact written by the snapshotctl snapshot agent.\n' +
    (manifest.simulated ? '# SIMULATED: written by the simulated engine; no process state was saved.\n' : '');
  await writeFile(join(staging, ARTIFACT_MANIFEST_FILE), header + stringify(manifest));
  await rm(finalDir, { recursive: true, force: true });
  await rename(staging, finalDir);
}

/** True when the published artifact (directory with `manifest.yaml`) exists. */
export async function artifactExists(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, ARTIFACT_MANIFEST_FILE))).isFile();
  } catch {
    return false;
  }
}

/** The artifact's `manifest.yaml` as plain data. Throws with a readable message. */
export async function readArtifactManifest(dir: string): Promise<Record<string, unknown>> {
  const text = await readFile(join(dir, ARTIFACT_MANIFEST_FILE), 'utf8');
  const value: unknown = parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${join(dir, ARTIFACT_MANIFEST_FILE)} is not a mapping`);
  }
  return value as Record<string, unknown>;
}

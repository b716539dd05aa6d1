/**
 * The artifact directory on checkpoint storage: `<root>/<id>/versions/1/` holding the
 * engine's files and `manifest.yaml`. Written in a staging directory and renamed into
 * place, so its existence means it is complete.
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify, parse } from 'yaml';
import { ARTIFACT_MANIFEST_FILE, ARTIFACT_VERSION } from '../protocol/constants.js';
import { checkArtifactVersion, checkCheckpointId } from '../protocol/ids.js';

/** A checkpoint ID, artifact version or path under the base path that the agent will not use. */
export class UnsafeArtifactPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArtifactPathError';
  }
}

/** A value from a label, annotation or directory name, quoted short enough for an event. */
function show(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

/**
 * Why a checkpoint ID cannot name an artifact, or undefined when it can. The same rules
 * as the CLI's `--checkpoint-id` (a label value and a path segment, protocol.md §9),
 * whether the ID came from a label, an annotation or a directory name.
 */
export function unsafeIdReason(id: string): string | undefined {
  const problems = checkCheckpointId(id);
  return problems.length === 0 ? undefined : `checkpoint ID ${show(id)} ${problems.join('; ')}`;
}

/**
 * Why an artifact version cannot be used, or undefined when it can: it must be a
 * path segment (`checkArtifactVersion`), and one this agent knows (`1`, §2).
 */
export function unsafeVersionReason(version: string): string | undefined {
  const problems = checkArtifactVersion(version);
  if (problems.length > 0) return `artifact version ${show(version)} ${problems.join('; ')}`;
  if (version !== ARTIFACT_VERSION) return `artifact version ${version} is not one this agent knows (it writes and reads version ${ARTIFACT_VERSION})`;
  return undefined;
}

/**
 * `<root>/<id>/versions/<version>`, the one place an artifact path is built: throws
 * `UnsafeArtifactPathError` when the ID or version is not usable.
 */
export function artifactDir(storageRoot: string, checkpointId: string, version: string = ARTIFACT_VERSION): string {
  const why = unsafeIdReason(checkpointId) ?? unsafeVersionReason(version);
  if (why) throw new UnsafeArtifactPathError(why);
  return join(storageRoot, checkpointId, 'versions', version);
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
  const versions = dirname(artifactDir(storageRoot, checkpointId));
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

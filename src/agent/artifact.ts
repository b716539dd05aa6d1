/**
 * The artifact directory on checkpoint storage: `<root>/<id>/versions/1/` holding the
 * engine's files and `manifest.yaml`. Written in a staging directory and renamed into
 * place, so its existence means it is complete.
 */
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseDocument, stringify } from 'yaml';
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

/** Largest `manifest.yaml` or engine metadata file the agent reads, bytes. */
export const MAX_ARTIFACT_METADATA_BYTES = 4 * 1024 * 1024;

/**
 * A file in an artifact that the agent will not use. The message names the file and the
 * kind of problem only: the file may be anything an attacker could link or copy there,
 * and messages end up in events and logs that other people read.
 */
export class ArtifactFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file} ${problem}`);
    this.name = 'ArtifactFileError';
  }
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function openProblem(err: unknown): string {
  switch (errnoCode(err)) {
    case 'ENOENT':
      return 'is missing';
    case 'ELOOP':
      return 'is a symbolic link; the agent follows no links in an artifact';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    default:
      return `cannot be opened (${errnoCode(err) ?? 'unknown error'})`;
  }
}

/**
 * The text of `<dir>/<name>`, a small regular file the artifact owns: opened without
 * following a link (O_NOFOLLOW) or blocking on a FIFO (O_NONBLOCK), refused when it is
 * not a regular file, has other hard links (one to a file outside the artifact would
 * read that file), or is larger than `maxBytes`. Throws `ArtifactFileError`.
 */
export async function readArtifactFile(dir: string, name: string, maxBytes = MAX_ARTIFACT_METADATA_BYTES): Promise<string> {
  const file = join(dir, name);
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new ArtifactFileError(file, openProblem(err));
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ArtifactFileError(file, 'is not a regular file');
    if (st.nlink > 1) throw new ArtifactFileError(file, 'has more than one hard link; the agent reads only files the artifact owns');
    if (st.size > maxBytes) throw new ArtifactFileError(file, `is larger than ${maxBytes} bytes`);
    // Read at most one byte past the limit: the file may have grown since fstat.
    const buf = Buffer.alloc(maxBytes + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > maxBytes) throw new ArtifactFileError(file, `is larger than ${maxBytes} bytes`);
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (err) {
    if (err instanceof ArtifactFileError) throw err;
    throw new ArtifactFileError(file, `cannot be read (${errnoCode(err) ?? 'unknown error'})`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** `<dir>/<name>` parsed as JSON (`readArtifactFile`'s rules); the parser's message, which quotes the text, is dropped. */
export async function readArtifactJson(dir: string, name: string): Promise<unknown> {
  const text = await readArtifactFile(dir, name);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ArtifactFileError(join(dir, name), 'is not valid JSON');
  }
}

/** The artifact's `manifest.yaml` as plain data (`readArtifactFile`'s rules). Throws `ArtifactFileError`. */
export async function readArtifactManifest(dir: string): Promise<Record<string, unknown>> {
  const file = join(dir, ARTIFACT_MANIFEST_FILE);
  const text = await readArtifactFile(dir, ARTIFACT_MANIFEST_FILE);
  // parseDocument, not parse: parse throws (and warns on stderr) with a snippet of the text.
  let value: unknown;
  try {
    const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) throw new Error('invalid');
    value = doc.toJS({ maxAliasCount: 100 });
  } catch {
    throw new ArtifactFileError(file, 'is not valid YAML');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ArtifactFileError(file, 'is not a YAML mapping');
  }
  return value as Record<string, unknown>;
}

/**
 * The artifact directory on checkpoint storage: `<root>/<id>/versions/1/` holding the
 * engine's files and `manifest.yaml`. Written in a staging directory and renamed into
 * place, so its existence means it is complete.
 *
 * The storage is shared with pods (a restore pod mounts it), so its contents are
 * untrusted input to an agent that runs as root: paths are walked without following
 * links, files are opened with O_NOFOLLOW, and nothing is renamed or deleted outside
 * the base path.
 */
import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
 * as the CLI's `--checkpoint-id` (a label value and a path segment, docs/protocol.md §9),
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

/** Folder of an ID's versions: `<root>/<id>/versions`. */
const VERSIONS_DIR = 'versions';
/** Prefix of a staging directory beside the versions (a dot keeps it out of `ls`). */
const STAGING_PREFIX = '.staging-';
/** Prefix an older artifact gets while its replacement moves in. */
const REPLACED_PREFIX = '.replaced-';

type EntryKind = 'missing' | 'directory' | 'file' | 'symlink' | 'other';

/** What is at `path` itself (lstat: a link is reported, not followed). */
async function entryKind(path: string): Promise<EntryKind> {
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return 'symlink';
    if (st.isDirectory()) return 'directory';
    return st.isFile() ? 'file' : 'other';
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 'missing';
    throw err;
  }
}

function notADirectory(path: string, kind: EntryKind, root: string): UnsafeArtifactPathError {
  return new UnsafeArtifactPathError(
    kind === 'symlink'
      ? `${path} is a symbolic link; the agent follows no links under its base path ${root}`
      : `${path} is not a directory`,
  );
}

function assertSegment(segment: string): void {
  if (segment === '' || segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) {
    throw new UnsafeArtifactPathError(`${JSON.stringify(segment)} cannot be a path segment under the base path`);
  }
}

/**
 * `<root>/<segments...>` when every segment below the base path is a real directory,
 * checked one at a time with lstat so that no link is followed; undefined when one is
 * missing, unless `create` makes it. The base path itself is the operator's
 * configuration (a mount point, perhaps reached through a link) and is trusted.
 * Throws `UnsafeArtifactPathError` for a link, anything but a directory, or a segment
 * that is empty, `.`, `..` or holds a separator.
 */
export async function resolveUnderBase(root: string, segments: readonly string[], create = false): Promise<string | undefined> {
  for (const segment of segments) assertSegment(segment);
  if (create) await mkdir(root, { recursive: true });
  let path = root;
  for (const segment of segments) {
    path = join(path, segment);
    let kind = await entryKind(path);
    if (kind === 'missing' && create) {
      // Not recursive: mkdir of the last component does not follow a link planted there.
      await mkdir(path, 0o755).catch((err: unknown) => {
        if (errnoCode(err) !== 'EEXIST') throw err;
      });
      kind = await entryKind(path);
    }
    if (kind === 'missing') return undefined;
    if (kind !== 'directory') throw notADirectory(path, kind, root);
  }
  return path;
}

/** A staging directory's name up to its random part; `tag` (the Job's UID) says whose it is. */
function stagingPrefix(version: string, tag: string): string {
  if (tag !== '' && !/^[A-Za-z0-9-]{1,64}$/.test(tag)) throw new UnsafeArtifactPathError(`${JSON.stringify(tag)} cannot tag a staging directory`);
  return `${STAGING_PREFIX}${version}-${tag === '' ? '' : `${tag}-`}`;
}

/**
 * A fresh staging directory beside where the artifact will live (same filesystem, so
 * rename is atomic). `tag` (the checkpoint Job's UID) goes into its name, so that what an
 * interrupted attempt left can be found and removed (`removeStagings`).
 */
export async function createStaging(storageRoot: string, checkpointId: string, version: string = ARTIFACT_VERSION, tag = ''): Promise<string> {
  artifactDir(storageRoot, checkpointId, version);
  const prefix = stagingPrefix(version, tag);
  const versions = await resolveUnderBase(storageRoot, [checkpointId, VERSIONS_DIR], true);
  if (!versions) throw new UnsafeArtifactPathError(`${join(storageRoot, checkpointId, VERSIONS_DIR)} disappeared while it was made`);
  return mkdtemp(join(versions, prefix));
}

/**
 * Remove the staging directories of `checkpointId`/`version` tagged `tag` (what an
 * attempt that was cut off, e.g. an agent killed mid-dump, left behind), without
 * following links. Returns the paths removed.
 */
export async function removeStagings(storageRoot: string, checkpointId: string, version: string, tag: string): Promise<string[]> {
  if (tag === '') return [];
  const prefix = stagingPrefix(version, tag);
  const versions = await resolveUnderBase(storageRoot, [checkpointId, VERSIONS_DIR]);
  if (!versions) return [];
  const removed: string[] = [];
  for (const name of await readdir(versions)) {
    if (!name.startsWith(prefix)) continue;
    const path = join(versions, name);
    // A link or file with a staging name is not ours to follow: unlink it, never its target.
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

/** The versions directory `staging` must sit in, checked again (the engine ran for a while since). */
async function checkStaging(storageRoot: string, checkpointId: string, staging: string): Promise<string> {
  const versions = await resolveUnderBase(storageRoot, [checkpointId, VERSIONS_DIR]);
  if (!versions || dirname(staging) !== versions || !basename(staging).startsWith(STAGING_PREFIX)) {
    throw new UnsafeArtifactPathError(`${staging} is not a staging directory of checkpoint ${checkpointId} under ${storageRoot}`);
  }
  const kind = await entryKind(staging);
  if (kind !== 'directory') throw notADirectory(staging, kind, storageRoot);
  return versions;
}

/** Create `path` with `text`; never through a link, never over an existing file. */
async function writeNewFile(path: string, text: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST' || code === 'ELOOP') throw new UnsafeArtifactPathError(`${path} already exists; the agent writes it only once`);
    throw err;
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/**
 * Write `manifest.yaml` into `staging` and move it to `<root>/<id>/versions/<version>`.
 * An artifact is written once: when one is already published there (by another writer
 * that got there first), `ArtifactTakenError`, and the staging is left to the caller to
 * remove. Every rename and delete stays under the base path: the path is checked again
 * first, a link or file where the artifact goes is refused, and a directory there
 * without a manifest (no artifact: a removal cut short) is renamed aside and deleted
 * without following the links it holds. Returns the published directory.
 */
export async function publishArtifact(storageRoot: string, staging: string, manifest: ArtifactManifest): Promise<string> {
  const finalDir = artifactDir(storageRoot, manifest.checkpointId, manifest.artifactVersion);
  await checkStaging(storageRoot, manifest.checkpointId, staging);
  const header =
    '# Checkpoint artifact written by the snapshotctl snapshot agent.\n' +
    (manifest.simulated ? '# SIMULATED: written by the simulated engine; no process state was saved.\n' : '');
  await writeNewFile(join(staging, ARTIFACT_MANIFEST_FILE), header + stringify(manifest));
  const versions = await checkStaging(storageRoot, manifest.checkpointId, staging);
  const kind = await entryKind(finalDir);
  let replaced: string | undefined;
  if (kind === 'directory') {
    // One ID and version, one artifact: another writer published it first.
    if ((await entryKind(join(finalDir, ARTIFACT_MANIFEST_FILE))) !== 'missing') throw await takenError(finalDir, manifest);
    // A directory without a manifest is no artifact (a removal cut short): set aside.
    replaced = join(versions, `${REPLACED_PREFIX}${manifest.artifactVersion}-${randomBytes(6).toString('hex')}`);
    await rename(finalDir, replaced);
  } else if (kind !== 'missing') {
    throw notADirectory(finalDir, kind, storageRoot);
  }
  try {
    await rename(staging, finalDir);
  } catch (err) {
    // Published by another writer between the look above and this rename.
    if (errnoCode(err) === 'ENOTEMPTY' || errnoCode(err) === 'EEXIST') throw await takenError(finalDir, manifest);
    throw err;
  }
  // fs.rm lstat's each entry and unlinks links rather than following them.
  if (replaced) await rm(replaced, { recursive: true, force: true }).catch(() => undefined);
  return finalDir;
}

/** A published artifact stands where another writer meant to publish. */
export class ArtifactTakenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactTakenError';
  }
}

/** Who wrote the artifact in `dir`, from its manifest (what it says, never more), for messages. */
export async function describeArtifactSource(dir: string): Promise<string> {
  const m = await readArtifactManifest(dir).catch(() => undefined);
  if (!m) return 'its manifest.yaml is unreadable';
  const str = (v: unknown): string | undefined => (typeof v === 'string' && /^[\w.:/+-]{1,253}$/.test(v) ? v : undefined);
  const pod = str(m['namespace']) && str(m['pod']) ? `pod ${str(m['namespace'])}/${str(m['pod'])}` : 'an unnamed pod';
  const at = str(m['createdAt']);
  const node = str(m['nodeName']);
  return `from ${pod}${node ? ` on node ${node}` : ''}${at ? `, written ${at}` : ''}`;
}

async function takenError(finalDir: string, manifest: ArtifactManifest): Promise<ArtifactTakenError> {
  return new ArtifactTakenError(
    `checkpoint ID ${manifest.checkpointId} (version ${manifest.artifactVersion}) was published by another checkpoint first (${await describeArtifactSource(finalDir)}); an artifact is written once, so this one was not kept: choose another checkpoint ID`,
  );
}

/** Delete a staging directory made by `createStaging`, after checking it still is one. */
export async function removeStaging(storageRoot: string, checkpointId: string, staging: string): Promise<void> {
  await checkStaging(storageRoot, checkpointId, staging);
  await rm(staging, { recursive: true, force: true });
}

/**
 * True when the published artifact (a real directory with a `manifest.yaml` file)
 * exists, false when it does not (yet). Throws `UnsafeArtifactPathError` when the ID or
 * version is unusable, or a link or other non-directory stands in the path.
 */
export async function artifactExists(storageRoot: string, checkpointId: string, version: string = ARTIFACT_VERSION): Promise<boolean> {
  artifactDir(storageRoot, checkpointId, version);
  const dir = await resolveUnderBase(storageRoot, [checkpointId, VERSIONS_DIR, version]);
  if (!dir) return false;
  const manifest = join(dir, ARTIFACT_MANIFEST_FILE);
  const kind = await entryKind(manifest);
  if (kind === 'missing') return false;
  if (kind === 'file') return true;
  throw new UnsafeArtifactPathError(
    kind === 'symlink' ? `${manifest} is a symbolic link; the agent follows no links in an artifact` : `${manifest} is not a regular file`,
  );
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
    // One byte more than fstat said, to notice a file that grows while it is read.
    const buf = Buffer.alloc(st.size + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > st.size) throw new ArtifactFileError(file, 'changed while it was read');
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

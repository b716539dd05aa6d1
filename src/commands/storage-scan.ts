/**
 * One look at the checkpoint volume for a whole listing: a short-lived reader pod runs
 * a small POSIX shell script (busybox is enough) that prints one line per artifact
 * version directory, `<base>/<id>/versions/<n>`, with its size, its time and the few
 * fields of its `manifest.yaml` the catalogue shows. The artifacts on storage are the
 * catalogue's source of truth: a checkpoint whose Job was deleted (by `delete`, by
 * `kubectl delete job`, by a TTL, or a run that timed out while its agent finished)
 * is still there, and still takes gigabytes.
 *
 * The listing comes back through the pod's log (`pods/log`), whole; where that is not
 * allowed, through its termination message, which the kubelet cuts at 4 KiB (about 30
 * artifacts): the result then says it is incomplete. Symbolic links are never followed
 * (the reader mounts the volume read-only; a link is skipped, not listed).
 */
import { parse as parseYaml } from 'yaml';
import { isApiStatus } from '../kube/errors.js';
import type { KubeClient } from '../kube/types.js';
import { checkCheckpointId, type CheckpointStorage } from '../protocol/index.js';
import type { CommandDeps } from './context.js';
import { buildHelperPod, runHelperPod, TERMINATION_MESSAGE_PATH } from './helper-pod.js';
import { STORAGE_SCAN_SCRIPT } from '../protocol/storage-scan-script.js';

export { STORAGE_SCAN_MARKER, STORAGE_SCAN_SCRIPT } from '../protocol/storage-scan-script.js';

/** The reader container's command for `basePath`. */
export function storageScanCommand(basePath: string): string[] {
  return ['sh', '-c', STORAGE_SCAN_SCRIPT, 'storage-scan', basePath, TERMINATION_MESSAGE_PATH];
}

/** One artifact version directory on the checkpoint volume. */
export interface StoredArtifact {
  id: string;
  version: string;
  /** Bytes on disk (`du`), null when unknown. */
  bytes: number | null;
  /** The directory's modification time, ISO; null when unknown. */
  modifiedAt: string | null;
  /** False: no `manifest.yaml` (an artifact our agent did not write, or a broken one). */
  hasManifest: boolean;
  /** From the manifest, when it has them and they are well formed. */
  namespace: string | null;
  pod: string | null;
  node: string | null;
  createdAt: string | null;
  engine: string | null;
  simulated: boolean | null;
}

export interface StorageListing {
  artifacts: StoredArtifact[];
  /** False when the listing was cut (the 4 KiB termination message) or a line could not be read. */
  complete: boolean;
  /** How it came back. */
  via: 'log' | 'message';
  /** Lines that could not be read, for a warning. */
  problems: string[];
}

/** A YAML scalar as the manifest wrote it (quoted or plain), or null. */
function scalar(text: string | undefined): string | null {
  if (text === undefined || text === '') return null;
  try {
    const v = parseYaml(text) as unknown;
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
  } catch {
    return null;
  }
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** A name from storage shown only when it looks like one (the file is data, not trusted). */
function nameOrNull(v: string | null): string | null {
  return v !== null && DNS_NAME.test(v) ? v : null;
}

function timeOrNull(v: string | null): string | null {
  return v !== null && /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)) ? new Date(Date.parse(v)).toISOString() : null;
}

/** Parse the script's output (pure). Lines of unusable IDs are left out and named in `problems`. */
export function parseStorageScan(text: string, via: StorageListing['via']): StorageListing {
  const artifacts: StoredArtifact[] = [];
  const problems: string[] = [];
  let end: number | undefined;
  let lines = 0;
  const rows = text.split('\n').filter((l) => l !== '');
  for (const [i, line] of rows.entries()) {
    const f = line.split('\t');
    if (f[0] === 'END' && f.length === 2 && /^\d+$/.test(f[1] ?? '')) {
      end = Number(f[1]);
      continue;
    }
    if (f[0] !== 'A' || f.length !== 12) {
      // A line cut by the 4 KiB limit ends the listing; anything else is reported.
      if (via === 'message' && end === undefined && i === rows.length - 1) break;
      problems.push(`unreadable line ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    lines += 1;
    const [, id = '', version = '', kib = '', mtime = '', has, ns, pod, node, at, engine, sim] = f;
    if (checkCheckpointId(id).length > 0 || !/^[0-9A-Za-z][-0-9A-Za-z_.]{0,62}$/.test(version)) {
      problems.push(`directory ${JSON.stringify(`${id}/versions/${version}`.slice(0, 120))} is not a checkpoint ID and version`);
      continue;
    }
    const simulated = scalar(sim);
    artifacts.push({
      id,
      version,
      bytes: /^\d+$/.test(kib) ? Number(kib) * 1024 : null,
      modifiedAt: /^\d+$/.test(mtime) ? new Date(Number(mtime) * 1000).toISOString() : null,
      hasManifest: has === '1',
      namespace: nameOrNull(scalar(ns)),
      pod: nameOrNull(scalar(pod)),
      node: nameOrNull(scalar(node)),
      createdAt: timeOrNull(scalar(at)),
      engine: nameOrNull(scalar(engine)),
      simulated: simulated === 'true' ? true : simulated === 'false' ? false : null,
    });
  }
  const complete = end !== undefined && end === lines && lines === artifacts.length + problems.length;
  return { artifacts, complete, via, problems };
}

export interface ScanInput {
  namespace: string;
  storage: CheckpointStorage;
  /** Agent nodes, where the reader may run (a node-local volume). */
  nodes?: string[] | undefined;
  image: string;
  timeoutMs: number;
}

/**
 * Run the scan through one reader pod (deleted afterwards, whatever happens). Throws
 * when the pod could not run or the script failed; the caller decides whether that is
 * a warning (list) or an error (prune).
 */
export async function scanStorage(client: KubeClient, input: ScanInput, deps: Pick<CommandDeps, 'signal' | 'reporter' | 'leftovers'>): Promise<StorageListing> {
  const pod = buildHelperPod({
    namespace: input.namespace,
    storage: input.storage,
    image: input.image,
    ...(input.nodes && input.nodes.length > 0 ? { nodes: input.nodes } : {}),
    purpose: 'reader',
    command: storageScanCommand(input.storage.basePath),
  });
  deps.reporter.phase(`listing the artifacts under ${input.storage.basePath} (pvc/${input.storage.pvcName}) through a short-lived reader pod`);
  let log: string | undefined;
  const out = await runHelperPod(client, pod, {
    signal: deps.signal,
    timeoutMs: input.timeoutMs,
    reporter: deps.reporter,
    ...(deps.leftovers ? { leftovers: deps.leftovers } : {}),
    // The log is read before the pod is deleted.
    beforeDelete: async (name) => {
      if (!client.log) return;
      log = await client.log(input.namespace, name, { signal: deps.signal }).catch((err: unknown) => {
        if (isApiStatus(err, 403, 404, 400)) return undefined;
        throw err;
      });
    },
  });
  if (!out.succeeded) {
    throw new Error(`the reader pod could not list ${input.storage.basePath}: ${out.message.trim() || `exit code ${out.exitCode ?? 'unknown'}`}`);
  }
  if (log !== undefined && /(^|\n)END\t\d+\n?$/.test(log)) return parseStorageScan(log, 'log');
  return parseStorageScan(out.message, 'message');
}

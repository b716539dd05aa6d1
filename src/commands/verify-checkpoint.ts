/**
 * `restore` checks first that there is something to restore: a mistyped ID fails in
 * seconds with the closest existing IDs, instead of waiting out the timeout for an
 * agent that will never find the artifact.
 *
 * The cheap look first: a checkpoint Job with this ID that completed (one list). When
 * no Job says so (the Job was deleted, timed out, never ours), the artifact itself is
 * looked for on the checkpoint volume through the short-lived reader pod `describe` uses.
 * `--no-verify` skips it all, for an agent whose storage the CLI cannot see.
 */
import { ARTIFACT_MANIFEST_FILE, checkpointLocation, jobVerdict, LABEL_CHECKPOINT_ID, type CheckpointStorage, type Job } from '../protocol/index.js';
import { editDistance } from '../protocol/edit-distance.js';
import { isApiStatus } from '../kube/errors.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import { OperationFailed } from '../errors.js';
import { buildCatalogue, collectCatalogue } from './catalogue.js';
import type { CommandDeps } from './context.js';
import { buildHelperPod, DEFAULT_HELPER_IMAGE, readerCommand, runHelperPod } from './helper-pod.js';

export interface VerifyInput {
  namespace: string;
  checkpointId: string;
  storage: CheckpointStorage;
  /** Agent nodes, where the reader pod may run (the PVC may be node-local). */
  nodes?: string[];
  helperImage?: string;
  timeoutMs: number;
}


/** The known IDs closest to `id` (at most three, nearest first), for "did you mean". */
export function closestIds(id: string, known: string[]): string[] {
  const limit = Math.max(2, Math.floor(id.length / 3));
  return [...new Set(known)]
    .filter((k) => k !== id)
    .map((k) => ({ k, d: k.startsWith(id) || id.startsWith(k) ? Math.min(editDistance(id, k), limit) : editDistance(id, k) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d || x.k.localeCompare(y.k))
    .slice(0, 3)
    .map((x) => x.k);
}

/** Throws OperationFailed (exit 1) when there is no checkpoint to restore; says why it could not tell, and goes on, otherwise. */
export async function verifyCheckpoint(client: KubeClient, input: VerifyInput, deps: CommandDeps): Promise<void> {
  const { namespace: ns, checkpointId: id } = input;
  deps.reporter.phase(`checking that checkpoint "${id}" exists in namespace "${ns}"`);
  let jobs: Job[] | undefined;
  try {
    jobs = (await client.list<Job>(RESOURCES.jobs, ns, { labelSelector: `${LABEL_CHECKPOINT_ID}=${id}`, signal: deps.signal })).items;
  } catch (err) {
    if (!isApiStatus(err, 403)) throw err;
  }
  if (jobs?.some((j) => jobVerdict(j).state === 'completed')) return;
  const pending = jobs?.find((j) => jobVerdict(j).state === 'pending');
  if (pending) {
    // The agent waits for the artifact of a checkpoint still being written.
    deps.reporter.info(`checkpoint "${id}" is still being written (job.batch/${pending.metadata.name ?? '?'}); the agent restores it once it is there`);
    return;
  }

  // No Job says it is there: look at the volume itself.
  const path = `${checkpointLocation(input.storage.basePath, id)}/${ARTIFACT_MANIFEST_FILE}`;
  const reader = buildHelperPod({
    namespace: ns,
    storage: input.storage,
    image: input.helperImage ?? DEFAULT_HELPER_IMAGE,
    ...(input.nodes && input.nodes.length > 0 ? { nodes: input.nodes } : {}),
    purpose: 'reader',
    command: readerCommand(path),
  });
  deps.reporter.phase(`no completed checkpoint Job has ID "${id}": looking for ${path} through a short-lived reader pod`);
  let out: Awaited<ReturnType<typeof runHelperPod>>;
  try {
    out = await runHelperPod(client, reader, { signal: deps.signal, timeoutMs: input.timeoutMs, reporter: deps.reporter, ...(deps.leftovers ? { leftovers: deps.leftovers } : {}) });
  } catch (err) {
    if (deps.signal.aborted) throw err;
    deps.reporter.warn(`could not check the checkpoint volume for ${path} (${(err as Error).message}); restoring anyway (--no-verify skips this check)`);
    return;
  }
  if (out.succeeded) return;
  if (!/no such file|can't stat|cannot stat/i.test(out.message)) {
    deps.reporter.warn(`could not read ${path} (${out.message.trim() || `reader exit code ${out.exitCode ?? 'unknown'}`}); restoring anyway (--no-verify skips this check)`);
    return;
  }
  const known = await collectCatalogue(client, ns, undefined)
    .then((objs) => buildCatalogue(objs).map((e) => e.id))
    .catch(() => [] as string[]);
  const near = closestIds(id, known);
  const failed = jobs?.find((j) => jobVerdict(j).state === 'failed');
  throw new OperationFailed(
    `no checkpoint "${id}" to restore in namespace "${ns}": ${failed ? `job.batch/${failed.metadata.name ?? '?'} of that ID failed, and ` : 'no checkpoint Job has that ID, and '}there is no artifact at ${path}` +
      (near.length > 0 ? `; did you mean ${near.map((n) => `"${n}"`).join(', ')}?` : ''),
    `\`snapshotctl list -n ${ns}\` shows the checkpoints there; --no-verify restores without this check (an agent whose storage snapshotctl cannot see)`,
  );
}

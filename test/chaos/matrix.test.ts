/**
 * The chaos matrix (issue 8, item 2): every flow × step × fault of matrix-table.ts,
 * through the built binary against the dev cluster. Each case asserts the documented
 * exit code, the final message on stderr, that nothing the CLI created is left (and
 * that the restore --pod target is never deleted), that the run ended within
 * `--timeout` plus a grace period, and that the fault really reached the CLI.
 *
 * Every case can fail; for example:
 * - checkpoint × discovery × 503: fails if reads stop retrying 5xx (exit 3).
 * - restore --manifest × create × 429: fails if writes ignore Retry-After (the retry
 *   comes sooner than 900 ms) or are not retried at all (exit 3).
 * - checkpoint × create × connection reset: fails if a create is retried after a lost
 *   answer (exit 0 instead of 3), or if the message stops naming the reset.
 * - any × first watch / mid-wait × 403: fails if the CLI does not fall back to polling
 *   (exit 3) or stops saying so.
 * - restore --pod × verdict × watch closed: fails if a verdict written while the stream
 *   is down is lost on resume (exit 4 after --timeout).
 * - checkpoint × mid-wait × SIGTERM: fails if the Job is not deleted (leftover) or the
 *   exit code is not 130.
 * - restore --pod × mid-wait × pod evicted: fails if the CLI deletes the placeholder
 *   it did not create, or keeps waiting on a Failed pod (exit 4).
 * - any × discovery × SIGINT: fails if the CLI goes on to create anything.
 * - any × first watch / mid-wait × watch 410 / 500 always: fails if a loop storms (more
 *   than 30 requests) or, for 500, the CLI never reads the object with get (exit 4).
 * - any × mid-wait × server gone: fails if the CLI waits out --timeout blaming the
 *   agent (exit 4) or does not name what it could not delete.
 * - any × discovery × unresponsive: fails if --timeout does not bound the look-ups.
 * - any × verdict × SIGINT: fails if cleanup deletes what the agent marked completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvLines, leftovers, liveChildren, runCli, type CliRun } from '../e2e/harness.js';
import { caseNames, NS, SHAPES, stage, TIMEOUT_MS } from './inject.js';
import { CLI_USER, LanePool, type Lane } from './lanes.js';
import { EXIT_CODES, matrixCases, type MatrixCase, type Outcome } from './matrix-table.js';

/** Clusters side by side; the CLI mostly waits, so a few more than the 2 cores pay off. */
const LANES = 5;
/**
 * Allowed beyond `--timeout` from the CLI's first API request to its exit: discovery
 * and the write before the wait starts, cleanup after it. Node start-up is left out:
 * loading the Kubernetes client costs about 1 CPU-second, which becomes several
 * seconds when four runs start at once on a busy 2-core runner, and --timeout does not
 * govern it.
 */
const GRACE_MS = 3000;
/** From spawn to exit, start-up included: anything past this is a hang, whatever the load. */
const HANG_MS = TIMEOUT_MS + 20_000;

const RESOURCE_TEXT = { jobs: 'jobs\\.batch', pods: 'pods' } as const;

/** The stderr lines that tell each outcome apart. */
function expectedStderr(c: MatrixCase, outcome: Outcome): RegExp[] {
  const shape = SHAPES[c.flow];
  const { awaited } = caseNames(c);
  const waitingFor = `${RESOURCE_TEXT[shape.awaited]} "${awaited}" in namespace "${NS}"`;
  const kind = c.flow === 'checkpoint' ? 'checkpoint' : 'restore';
  const signalLine = /\nreceived SIG(INT|TERM): stopping and cleaning up/;
  const cleaned = shape.creates
    ? [new RegExp(`deleted ${c.flow === 'checkpoint' ? 'job\\.batch' : 'pod'}/${awaited} in namespace "${NS}" \\(created by this run\\)`)]
    : [];
  switch (outcome) {
    case 'completed':
    case 'completed or interrupted':
      return [];
    case 'completed, polling':
      return [new RegExp(`watch on ${shape.awaited} is forbidden; polling every 0\\.2s`)];
    case 'timed out before create':
      return [
        /^error: timed out after 3s while (looking for|reading pod "\S+" and) the snapshot agent in namespace "default"$/m,
        /^hint: the API server at https?:\/\/127\.0\.0\.1:\d+ did not answer in time/m,
      ];
    case 'server gone':
      return [
        new RegExp(`^error: the API server at https?://127\\.0\\.0\\.1:\\d+ stopped answering while waiting for ${waitingFor} \\(`, 'm'),
        ...(shape.creates
          ? [new RegExp(`could not delete ${c.flow === 'checkpoint' ? 'job\\.batch' : 'pod'}/${awaited} in namespace "${NS}": .*; delete it with: kubectl delete ${c.flow === 'checkpoint' ? 'job' : 'pod'} ${awaited} -n ${NS}`)]
          : []),
      ];
    case 'forbidden':
      return [/^error: .*forbidden/m];
    case 'unavailable':
      return [/^error: .*list daemonsets\.apps.*(unavailable|503)/im];
    case 'connection reset':
      return [new RegExp(`^error: the connection to the API server at \\S+ was reset \\(cannot ${shape.write.verb} ${RESOURCE_TEXT[shape.write.resource]} "${awaited}"`, 'm')];
    case 'agent failed':
      return [new RegExp(`^error: ${kind} of ${NS}/\\S+ failed: .*failure injected by the agent fault switch`, 'm'), ...cleaned];
    case 'evicted':
      return [new RegExp(`^error: ${kind} of ${NS}/\\S+ failed: .*(Evicted|evicted|pod failed)`, 'm'), ...cleaned];
    case 'timed out':
      return [new RegExp(`^error: timed out after 3s waiting for ${waitingFor}$`, 'm'), ...cleaned];
    case 'interrupted before create':
      return [signalLine, /^error: interrupted before anything was created; nothing to clean up$/m];
    case 'interrupted':
      return [signalLine, new RegExp(`^error: interrupted while waiting for ${waitingFor}$`, 'm'), ...cleaned];
    case 'interrupted at the verdict':
      // The verdict is in: what the run created is its result and stays.
      return [
        signalLine,
        new RegExp(`^error: interrupted while waiting for ${waitingFor}$`, 'm'),
        ...(shape.creates ? [new RegExp(`kept ${c.flow === 'checkpoint' ? 'job\\.batch' : 'pod'}/${awaited} in namespace "${NS}": it is marked completed`)] : []),
      ];
  }
}

/** Outcomes that end before the run's one write. */
const BEFORE_WRITE: ReadonlySet<Outcome> = new Set(['forbidden', 'unavailable', 'connection reset', 'interrupted before create', 'timed out before create']);

/** The outcome a run actually had, where the table allows two. */
function actualOutcome(c: MatrixCase, r: CliRun): Outcome {
  if (c.outcome !== 'completed or interrupted') return c.outcome;
  return r.code === 130 ? 'interrupted at the verdict' : 'completed';
}

async function runCase(lane: Lane, c: MatrixCase): Promise<void> {
  const cluster = lane.cluster;
  const shape = SHAPES[c.flow];
  const { pod, awaited } = caseNames(c);
  const staged = await stage(lane, c);

  let running = true;
  const during = staged.during?.(() => running);
  let r: CliRun;
  try {
    r = await runCli(staged.args, { kubeconfig: lane.cliKubeconfig, timeoutMs: HANG_MS + 5000, ...staged.cli });
  } finally {
    running = false;
    await during;
  }
  const outcome = actualOutcome(c, r);
  const context = `exit ${String(r.code)} after ${r.ms} ms\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

  // The fault reached the CLI (else the case proves nothing).
  expect(staged.notFired(), context).toBeUndefined();
  // The documented exit code and final message; never a stack trace.
  expect(EXIT_CODES[c.outcome], context).toContain(r.code);
  for (const re of expectedStderr(c, outcome)) expect(r.stderr, context).toMatch(re);
  expect(r.stderr, context).not.toMatch(/\n\s+at /);
  if (outcome.startsWith('completed')) expect(r.stderr, context).not.toMatch(/^error:/m);
  // stdout: the result object once something was written, nothing before.
  if (BEFORE_WRITE.has(outcome)) expect(r.stdout, context).toBe('');
  else expect(kvLines(r.stdout)[0], context).toBe(outcome.startsWith('completed') ? 'status=completed' : 'status=failed');
  // No hang: --timeout plus the grace period from the CLI's first request to its exit.
  const exitedAt = Date.now();
  const first = cluster.api.requestLog
    .entries()
    .find((e) => e.resource === 'daemonsets' || (e.verb === 'get' && e.resource === 'pods' && e.name === pod));
  expect(first, 'the CLI reached the API server').toBeDefined();
  expect(exitedAt - first!.time, `${context}\n(ms from the first request to exit)`).toBeLessThanOrEqual(TIMEOUT_MS + GRACE_MS);
  expect(r.ms, context).toBeLessThanOrEqual(HANG_MS);

  // Nothing the CLI created is left; the restore --pod target is never deleted.
  const ours = (n: string) => {
    const name = n.split('/').at(-1) ?? '';
    return name === pod || name.startsWith(`${pod}-`);
  };
  const left = leftovers(cluster).filter(ours);
  if (outcome.startsWith('completed') || outcome === 'interrupted at the verdict') {
    expect(cluster.api.store.get(shape.awaited, NS, awaited), `${awaited} exists after success`).toBeDefined();
  } else if (outcome === 'server gone') {
    // Nothing can be deleted on a dead server: what it created stays, named on stderr (checked above).
    if (shape.creates) expect(left, context).toContain(`${c.flow === 'checkpoint' ? 'job.batch' : 'pod'}/${NS}/${awaited}`);
  } else if (shape.creates) {
    expect(left, context).toEqual([]);
  } else {
    expect(left, context).toEqual([`pod/${NS}/${pod}`]);
  }
  if (staged.placeholderUid) {
    const target = cluster.api.store.get('pods', NS, pod);
    expect(target?.metadata.uid, 'the restore --pod target is the same pod').toBe(staged.placeholderUid);
    expect(target?.metadata.deletionTimestamp, 'the restore --pod target is not being deleted').toBeUndefined();
  }
  const writes = cluster.api.requestLog
    .entries({ verb: shape.write.verb, resource: shape.write.resource })
    .filter((e) => e.status >= 200 && e.status < 300);
  if (BEFORE_WRITE.has(outcome)) expect(writes, 'nothing was written').toEqual([]);

  // A fault that never goes away costs a bounded handful of requests, not a storm (issue 14: 6,231 in 10 s).
  if (c.fault === 'watch 410 always' || c.fault === 'watch 500 always') {
    expect(cluster.api.requestLog.count({ user: CLI_USER }), context).toBeLessThanOrEqual(30);
  }
  // A watch that only fails: the verdict came from a get after the failures began.
  if (c.fault === 'watch 500 always') {
    const log = cluster.api.requestLog.entries({ user: CLI_USER, resource: shape.awaited });
    const firstFailure = log.find((e) => e.verb === 'watch' && e.status === 500);
    expect(firstFailure, context).toBeDefined();
    expect(log.filter((e) => e.verb === 'get' && e.name === awaited && e.time >= firstFailure!.time && e.status === 200).length, context).toBeGreaterThan(0);
  }

  // Retry-After: 1 was honoured: the retry came no sooner than the server asked.
  if (c.fault === '429 Retry-After' && staged.rule) {
    const log = cluster.api.requestLog.entries();
    const i = log.findIndex((e) => e.status === 429);
    expect(i, 'a 429 was served').toBeGreaterThanOrEqual(0);
    const throttled = log[i]!;
    const retry = log.slice(i + 1).find((e) => e.verb === throttled.verb && e.resource === throttled.resource && e.namespace === throttled.namespace);
    expect(retry, 'the throttled call was retried').toBeDefined();
    expect(retry!.time - throttled.time, 'Retry-After: 1 honoured').toBeGreaterThanOrEqual(900);
  }
}

const CASES = matrixCases();
const pool = new LanePool(LANES);

describe('chaos matrix: flow × step × fault', () => {
  beforeAll(async () => {
    await pool.start();
  }, 60_000);
  afterAll(async () => {
    for (const c of liveChildren()) c.kill('SIGKILL');
    await pool.close();
  });

  it.concurrent.each(CASES.map((c) => [`#${c.id} ${c.flow} | ${c.step} | ${c.fault} → exit ${EXIT_CODES[c.outcome].join(' or ')} (${c.outcome})`, c] as const))(
    '%s',
    async (_name, c) => {
      await pool.use((lane) => runCase(lane, c));
    },
    60_000,
  );
});

/**
 * The chaos matrix: flow × step × fault → the outcome the CLI must reach (docs/cli.md
 * "Exit codes", "Cleanup", "Behaviour a user can rely on"). The same step × fault table
 * holds for the three flows; they differ only in what "cleanup" means: checkpoint and
 * restore --manifest delete the Job / pod they created, restore --pod never deletes its
 * target (it existed before the run).
 *
 * | step \ fault      | 503 ×2 | 503 always | 429 RA:1 | reset      | watch closed | 410 Gone | 403          | agent failed | agent silent | pod evicted | SIGINT / SIGTERM        | watch 410 always | watch 500 always | server gone | unresponsive |
 * |-------------------|--------|------------|----------|------------|--------------|----------|--------------|--------------|--------------|-------------|-------------------------|------------------|------------------|-------------|--------------|
 * | discovery         | 0      | 3 unavail. | 0        | 0          | -            | -        | 3 forbidden  | -            | -            | -           | 130, nothing created    | -                | -                | -           | 4, nothing   |
 * | create (patch)    | 0      | -          | 0        | 3 reset    | -            | -        | 3 forbidden  | -            | -            | -           | 130, cleaned up         | -                | -                | -           | -            |
 * | first watch       | 0      | -          | 0        | 0          | 0            | 0        | 0 (polls)    | -            | -            | -           | 130, cleaned up         | 0                | 0 (gets)         | -           | -            |
 * | mid-wait          | 0      | -          | 0        | 0          | 0            | 0        | 0 (polls)    | -            | -            | 1           | 130, cleaned up         | 0                | 0 (gets)         | 3, names it | -            |
 * | verdict           | 0      | -          | 0        | 0          | 0            | 0        | 0 (polls)    | 1            | 4            | -           | 0 or 130, kept (a race) | -                | -                | -           | -            |
 *
 * Why the dashes: discovery and create open no watch (watch closed, 410 Gone); a
 * persistent 503 is only asked of discovery (the client's give-up path is the same for
 * every call and each case costs its retries); nothing of the agent's exists before
 * the first write (agent faults, eviction); agent failed / silent are verdicts, so they
 * belong to the verdict step; an eviction at the verdict has nothing left to judge.
 * `reset` on create/patch ends in 3 by design: writes are not retried after a lost
 * answer (the server may have acted on it), only after 429, 503 or a refused connection.
 *
 * The last four never go away (issue 14). `watch 410 always` / `watch 500 always`: every
 * watch the CLI opens on the awaited object fails (the agents, on their own token, are
 * spared), so the CLI must back off (a bounded number of requests, whatever the fault)
 * and, for 500, read the object with get (its polls, or the last read before a
 * timeout); a 410 re-lists, and the list may already carry the verdict. A signal at the verdict keeps the object: it is marked completed, so it is
 * the result, not something to clean up. `server gone`: the API server is
 * killed while the CLI watches; it must exit 3 naming the server and each object it
 * could not delete (they stay, by necessity). `unresponsive`: the server accepts the
 * discovery request and never answers; --timeout ends it (exit 4). Only where a fault
 * means something new: a watch fault needs a watch, a dead server mid-wait covers the
 * dead server everywhere, and a never-answering write is bounded by the client's
 * per-request limit, not --timeout.
 */

export const FLOWS = ['checkpoint', 'restore --manifest', 'restore --pod'] as const;
export type Flow = (typeof FLOWS)[number];

export const STEPS = ['discovery', 'create', 'first watch', 'mid-wait', 'verdict'] as const;
export type Step = (typeof STEPS)[number];

export const FAULTS = [
  '503',
  '503 always',
  '429 Retry-After',
  'connection reset',
  'watch closed',
  '410 Gone',
  '403',
  'agent failed',
  'agent silent',
  'pod evicted',
  'SIGINT',
  'SIGTERM',
  'watch 410 always',
  'watch 500 always',
  'server gone',
  'unresponsive',
] as const;
export type Fault = (typeof FAULTS)[number];

/** What a run must end in. */
export type Outcome =
  | 'completed'
  | 'completed, polling'
  | 'forbidden'
  | 'unavailable'
  | 'connection reset'
  | 'agent failed'
  | 'evicted'
  | 'timed out'
  | 'timed out before create'
  | 'server gone'
  | 'interrupted before create'
  | 'interrupted'
  | 'interrupted at the verdict'
  | 'completed or interrupted';

/** Exit codes each outcome allows (docs/cli.md "Exit codes"). */
export const EXIT_CODES: Record<Outcome, readonly number[]> = {
  completed: [0],
  'completed, polling': [0],
  forbidden: [3],
  unavailable: [3],
  'connection reset': [3],
  'agent failed': [1],
  evicted: [1],
  'timed out': [4],
  'timed out before create': [4],
  'server gone': [3],
  'interrupted before create': [130],
  interrupted: [130],
  'interrupted at the verdict': [130],
  'completed or interrupted': [0, 130],
};

const TRANSIENT = { '503': 'completed', '429 Retry-After': 'completed', 'connection reset': 'completed' } as const;
const WATCH_FAULTS = { ...TRANSIENT, 'watch closed': 'completed', '410 Gone': 'completed', '403': 'completed, polling' } as const;
const SIGNALS = { SIGINT: 'interrupted', SIGTERM: 'interrupted' } as const;
// A 410 makes the CLI list again, and a list may carry the verdict before it gives up on
// watching; a 500 leaves it the polls or, on a loaded runner, the last read at --timeout.
const WATCH_ALWAYS = { 'watch 410 always': 'completed', 'watch 500 always': 'completed' } as const;

/** The table above; a missing entry is a combination that makes no sense. */
export const EXPECTED: Record<Step, Partial<Record<Fault, Outcome>>> = {
  discovery: {
    ...TRANSIENT,
    '503 always': 'unavailable',
    '403': 'forbidden',
    SIGINT: 'interrupted before create',
    SIGTERM: 'interrupted before create',
    unresponsive: 'timed out before create',
  },
  create: { '503': 'completed', '429 Retry-After': 'completed', 'connection reset': 'connection reset', '403': 'forbidden', ...SIGNALS },
  'first watch': { ...WATCH_FAULTS, ...SIGNALS, ...WATCH_ALWAYS },
  'mid-wait': { ...WATCH_FAULTS, 'pod evicted': 'evicted', ...SIGNALS, ...WATCH_ALWAYS, 'server gone': 'server gone' },
  verdict: {
    ...WATCH_FAULTS,
    'agent failed': 'agent failed',
    'agent silent': 'timed out',
    SIGINT: 'completed or interrupted',
    SIGTERM: 'completed or interrupted',
  },
};

export interface MatrixCase {
  id: number;
  flow: Flow;
  step: Step;
  fault: Fault;
  outcome: Outcome;
}

/** Every meaningful combination, numbered (the number makes object names unique). */
export function matrixCases(): MatrixCase[] {
  const cases: MatrixCase[] = [];
  for (const flow of FLOWS) {
    for (const step of STEPS) {
      for (const fault of FAULTS) {
        const outcome = EXPECTED[step][fault];
        if (outcome) cases.push({ id: cases.length + 1, flow, step, fault, outcome });
      }
    }
  }
  return cases;
}

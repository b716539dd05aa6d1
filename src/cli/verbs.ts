/**
 * The dispatch table: every verb users type, and how its result becomes output and an
 * exit code. `main` looks the verb up here and runs it; nothing else dispatches.
 *
 * Each entry loads its module only when its verb runs (`import()` inside `run`): this
 * file imports types only, so `--help` and `validate` load no Kubernetes
 * client, no chalk or yaml, no dev cluster.
 *
 * Two kinds of verb:
 * - `local`: runs with the process IO alone (validate, agent, demo, dev *);
 * - `cluster`: runs with `CommandDeps` (client factory, reporter on stderr, clock,
 *   signal) that `main` builds for it. It prints its own output and resolves to the
 *   exit code, or (checkpoint, restore) resolves to the operation's result, which
 *   `main` prints after the spinner stops.
 */
import type { CommandDeps, DryRunResult, OperationResult } from '../commands/context.js';
import type { CliIO } from './main.js';
import type { CommandName } from './program.js';
import type { CliReporter } from './reporter.js';

/** The Kubernetes client a command gets: a test's fake (`io.kube`), else ours, loaded on first use. */
export function clientFactory(io: Pick<CliIO, 'kube'>): CommandDeps['kube'] {
  return io.kube ?? (async (target, log) => (await import('../kube/client.js')).createKubeClient({ ...target, ...(log ? { logger: log } : {}) }));
}

/** What every verb gets from `main`. */
export interface VerbContext {
  io: CliIO;
  version: string;
  /** The CLI itself: `demo` runs its steps through it. */
  main: (argv: string[], io: CliIO) => Promise<number>;
  /**
   * Start loading the result printer now: checkpoint and restore call it before they
   * wait, so that printing the verdict resolves and loads no module after it arrives.
   */
  preloadOutput: () => void;
}

/** What the cluster verbs print with, beyond `CommandDeps`. */
export interface ClusterVerbIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stdin is a terminal: `delete` and `prune` may ask. */
  stdinIsTTY: boolean;
  /** Ask a question on the terminal; resolves to the answer line. */
  prompt?: (question: string) => Promise<string>;
  /** Colour allowed (stdout tables, the preflight checklist on stderr). */
  color: boolean;
  /** -q: no progress output (preflight: only failed and warned checks). */
  quiet: boolean;
  /** -v: each API call on stderr (restore: also the in-place patch). */
  verbose: boolean;
}

/** What a cluster verb gets: the deps (with the reporter main stops at the end) and its IO. */
export interface ClusterSession {
  deps: CommandDeps;
  reporter: CliReporter;
  io: ClusterVerbIO;
}

/** A cluster verb's outcome: an exit code (output printed), or an operation result for main to print. */
export type VerbOutcome = { exitCode: number } | { result: OperationResult | DryRunResult };

export type Verb =
  | { kind: 'local'; run: (raw: Record<string, unknown>, ctx: VerbContext) => Promise<number> }
  | { kind: 'cluster'; run: (raw: Record<string, unknown>, session: ClusterSession, ctx: VerbContext) => Promise<VerbOutcome> };

const local = (run: (raw: Record<string, unknown>, ctx: VerbContext) => Promise<number>): Verb => ({ kind: 'local', run });
const printed = (run: (raw: Record<string, unknown>, session: ClusterSession, ctx: VerbContext) => Promise<number>): Verb => ({
  kind: 'cluster',
  run: async (raw, session, ctx) => ({ exitCode: await run(raw, session, ctx) }),
});

/** Every verb, by the name commander's action reports. */
export const VERBS: { readonly [N in CommandName]: Verb } = {
  checkpoint: {
    kind: 'cluster',
    run: async (raw, { deps }, { preloadOutput }) => {
      // Loaded while the command waits, so printing the result adds no import to the
      // time between the verdict and the exit.
      preloadOutput();
      const dckpt = await import('../commands/dynamo-checkpoint.js');
      if (dckpt.usesIdentity(raw)) {
        const opts = await dckpt.complete(raw, deps);
        dckpt.validate(opts);
        return { result: await dckpt.run(opts, deps) };
      }
      const checkpoint = await import('../commands/checkpoint.js');
      const opts = await checkpoint.complete(raw, deps);
      checkpoint.validate(opts);
      return { result: await checkpoint.run(opts, deps) };
    },
  },
  restore: {
    kind: 'cluster',
    run: async (raw, { deps, reporter, io }, { preloadOutput }) => {
      preloadOutput();
      const restore = await import('../commands/restore.js');
      const opts = await restore.complete(raw, deps);
      restore.validate(opts);
      const result = await restore.run(opts, deps);
      if (io.verbose && 'dryRun' in result && result.patch !== undefined) {
        reporter.info(`patch (application/merge-patch+json): ${JSON.stringify(result.patch)}`);
      }
      return { result };
    },
  },
  validate: local(async (raw, { io, version }) =>
    // validate loads no Kubernetes client code (checkpoint/restore do).
    (await import('./validate.js')).runValidate(raw, { ...io, isTTY: io.isTTY && process.stdout.isTTY === true }, version),
  ),
  preflight: printed(async (raw, { deps, io }) => (await import('./preflight.js')).runPreflight(raw, deps, io)),
  // Only the agent loads its engines, runtime and probe server.
  agent: local(async (raw, { io }) => (await import('./agent.js')).runAgentCommand(raw, io)),
  demo: local(async (raw, { io, main }) => {
    const demo = await import('../commands/demo.js');
    const opts = demo.complete(raw);
    demo.validate(opts);
    const result = await demo.run(opts, {
      stdout: io.stdout,
      stderr: io.stderr,
      // Each step is this CLI run again, its output captured for the demo to indent.
      runCli: async (argv) => {
        let stdout = '';
        let stderr = '';
        const code = await main(argv, { ...io, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), isTTY: false });
        return { code, stdout, stderr };
      },
      now: Date.now,
      // The client main would build for a step (a test's fake, else ours), for the demo's own reads.
      kube: clientFactory(io),
      signal: io.signal,
      host: { platform: process.platform, isRoot: process.getuid?.() === 0, pid: process.pid },
    });
    return result.code;
  }),
  'dev up': local(async (raw, { io }) => (await import('./dev.js')).runDevUp(raw, io)),
  'dev serve': local(async (raw, { io }) => (await import('./dev.js')).runDevServe(raw, io)),
  'dev status': local(async (raw, { io }) => (await import('./dev.js')).runDevStatus(raw, io)),
  'dev down': local(async (raw, { io }) => (await import('./dev.js')).runDevDown(raw, io)),
  list: printed(async (raw, { deps, io }) => (await import('./list.js')).runList(raw, deps, io)),
  describe: printed(async (raw, { deps, io }) => (await import('./describe.js')).runDescribe(raw, deps, io)),
  delete: printed(async (raw, { deps, io }) => (await import('./delete.js')).runDelete(raw, deps, io)),
  prune: printed(async (raw, { deps, io }) => (await import('./prune.js')).runPrune(raw, deps, io)),
  hash: printed(async (raw, { deps, io }) => (await import('./hash.js')).runHash(raw, deps, io)),
  completion: printed(async (raw, { io }) => (await import('./completion.js')).runCompletion(raw, io)),
  __complete: printed(async (raw, { deps, io }) => (await import('./completion.js')).runComplete(raw, deps, io)),
};

/**
 * The entry point: the only code that reads process state, prints, and turns typed
 * errors into exit codes (style.md item 4).
 */
import { readFileSync } from 'node:fs';
import { basename, delimiter } from 'node:path';
import { CommanderError } from 'commander';
import type { CommandDeps, DryRunResult, OperationResult, OutputFormat } from '../commands/context.js';
import { EXIT, SnapshotError, UsageError, ValidationError, type ExitCode } from '../errors.js';
import type { KubeClient, RequestLogger } from '../kube/types.js';
import { normalizeGoFlags } from './args.js';
import { buildProgram, flagNames, type CommandName } from './program.js';
import { createReporter, type CliReporter } from './reporter.js';
import { runDev } from './dev.js';
import { escapeControls, oneLine } from './terminal-text.js';
import { readBoundedStream, readInputFile } from './input-file.js';
import { isCatalogueCommand } from './catalogue-program.js';
import { Leftovers, leftBehindLines } from '../commands/leftovers.js';

/** Everything the CLI takes from its surroundings; tests pass fakes. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal (spinner, colour). */
  isTTY: boolean;
  env: Record<string, string | undefined>;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  readStdin: () => Promise<string>;
  readFile?: (path: string) => Promise<string>;
  now?: () => number;
  nowNanos?: () => bigint;
  /** Replaces the real client (command tests). */
  kube?: (target: { kubeconfig?: string; context?: string }, logger?: RequestLogger) => Promise<KubeClient>;
  contextNamespace?: (target: { kubeconfig?: string; context?: string }) => Promise<string | undefined>;
  /** How the user invoked us, for usage lines: `snapshotctl` (default) or `kubectl snapshot`. */
  programName?: string;
  /** Replaces the dev cluster's agent-log lookup (command tests). */
  agentLogFile?: (target: { kubeconfig?: string; context?: string }) => Promise<string | undefined>;
  stderrStream?: NodeJS.WritableStream;
  /** stdin is a terminal (`delete` asks for confirmation). */
  stdinIsTTY?: boolean;
  /** Ask a question on the terminal (`delete`); resolves to the answer line. */
  prompt?: (question: string) => Promise<string>;
  /** What the run created and would delete on failure (named when a second signal cuts cleanup short). */
  leftovers?: Leftovers;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Print a typed error: message, findings, hint; values from input or the cluster are escaped. */
function printError(err: SnapshotError, io: CliIO): void {
  io.stderr(`error: ${escapeControls(err.message, { multiline: true })}\n`);
  if (err instanceof ValidationError) {
    for (const f of err.findings) io.stderr(`  ${oneLine(`${f.rule} ${f.path ? `${f.path}: ` : ''}${f.message}`)}\n`);
  }
  if (err.hint) io.stderr(`hint: ${escapeControls(err.hint, { multiline: true })}\n`);
}

function nanosNow(): bigint {
  // Date gives milliseconds; hrtime adds the sub-millisecond part, as Go's UnixNano does.
  const ms = BigInt(Date.now());
  const sub = process.hrtime.bigint() % 1_000_000n;
  return ms * 1_000_000n + sub;
}

/** Run the CLI with `argv` (arguments after the program name); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  let reporter: CliReporter | undefined;
  let format: OutputFormat = 'kv';
  let outcome: OperationResult | DryRunResult | undefined;
  let output: Promise<typeof import('./output.js')> | undefined;

  let exitCode: number | undefined;
  const onAction = async (name: CommandName, raw: Record<string, unknown>): Promise<void> => {
    if (name.startsWith('dev ')) {
      exitCode = await runDev(name, raw, io);
      return;
    }
    if (name === 'demo') {
      const cluster = raw['cluster'];
      if (cluster !== 'dev' && cluster !== 'real') throw new UsageError(`--cluster "${String(cluster)}" is not a cluster kind`, 'use --cluster dev (the embedded dev cluster, the default) or --cluster real');
      if (cluster === 'real') {
        for (const flag of ['nodes', 'engine'] as const) {
          if (raw[flag] !== undefined && !(flag === 'engine' && raw[flag] === 'criu')) {
            throw new UsageError(`--${flag} is for the dev cluster: the real cluster has one node and uses the criu engine`, `leave --${flag} out with --cluster real`);
          }
        }
        const { runRealDemo } = await import('./demo-real.js');
        exitCode = await runRealDemo({ verbose: raw['verbose'] === true, keepCluster: raw['keepCluster'] === true }, io, main);
        return;
      }
      if (raw['keepCluster'] === true) throw new UsageError('--keep-cluster is for --cluster real (the dev demo always stops its cluster)', 'add --cluster real, or leave --keep-cluster out');
      const nodes = Number(raw['nodes'] ?? 2);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) throw new UsageError(`--nodes "${String(raw['nodes'])}" must be a whole number from 1 to 50`, 'e.g. --nodes 2');
      const { runDemo } = await import('./demo.js');
      exitCode = await runDemo({ nodes, verbose: raw['verbose'] === true, ...(typeof raw['engine'] === 'string' ? { engine: raw['engine'] } : {}) }, io, main);
      return;
    }
    if (name === 'agent') {
      // Imported here: only the agent loads its engines, runtime and probe server.
      const { runAgentCommand } = await import('./agent.js');
      exitCode = await runAgentCommand(raw, io);
      return;
    }
    if (name === 'validate') {
      // Imported here: validate must load no Kubernetes client code (checkpoint/restore do).
      const { runValidate } = await import('./validate.js');
      exitCode = await runValidate(raw, { ...io, isTTY: io.isTTY && process.stdout.isTTY === true }, packageVersion());
      return;
    }
    format = (typeof raw['output'] === 'string' ? raw['output'] : 'kv') as OutputFormat;
    const quiet = raw['quiet'] === true;
    const verbose = raw['verbose'] === true;
    const colorAllowed = raw['color'] !== false && io.isTTY && !io.env['NO_COLOR'] && !io.env['CI'];
    const now = io.now ?? Date.now;
    reporter = await createReporter({
      write: io.stderr,
      interactive: colorAllowed,
      color: colorAllowed,
      quiet,
      now,
      ...(io.stderrStream ? { stream: io.stderrStream } : {}),
    });
    const logger: RequestLogger | undefined = verbose
      ? (e) => {
          reporter?.info(`${e.method} ${e.url} -> ${e.status || 'no response'} (${e.ms}ms)`);
          if (e.body !== undefined) reporter?.info(`  body: ${JSON.stringify(e.body)}`);
        }
      : undefined;
    const deps: CommandDeps = {
      kube: io.kube ?? (async (target, log) => (await import('../kube/client.js')).createKubeClient({ ...target, ...(log ? { logger: log } : {}) })),
      agentLogFile:
        io.agentLogFile ??
        (async (target) => {
          // The kubeconfig client-node would load: --kubeconfig, else the first of $KUBECONFIG.
          const path = target.kubeconfig ?? io.env['KUBECONFIG']?.split(delimiter).find((p) => p !== '');
          return (await import('../commands/dev.js')).devAgentLogFile(path);
        }),
      contextNamespace:
        io.contextNamespace ??
        (async (target) => (await import('../kube/context-namespace.js')).readContextNamespace({ ...target, env: io.env })),
      readFile: io.readFile ?? ((p) => readInputFile(p, { signal: io.signal })),
      readStdin: io.readStdin,
      now,
      nowNanos: io.nowNanos ?? nanosNow,
      signal: io.signal,
      reporter,
      ...(logger ? { logger } : {}),
      ...(io.leftovers ? { leftovers: io.leftovers } : {}),
    };
    if (name === 'preflight') {
      const { runPreflight } = await import('./preflight.js');
      exitCode = await runPreflight(raw, deps, { stdout: io.stdout, stderr: io.stderr, color: colorAllowed, quiet });
      return;
    }
    if (isCatalogueCommand(name)) {
      const { runCatalogue } = await import('./catalogue.js');
      exitCode = await runCatalogue(name, raw, deps, {
        stdout: io.stdout,
        stderr: io.stderr,
        stdinIsTTY: io.stdinIsTTY === true,
        ...(io.prompt ? { prompt: io.prompt } : {}),
        color: colorAllowed,
      });
      return;
    }
    // Loaded while the command waits, so printing the result adds no import to the
    // time between the verdict and the exit.
    output = import('./output.js');
    output.catch(() => undefined);
    if (name === 'checkpoint' && (await import('../commands/dynamo-checkpoint.js')).usesIdentity(raw)) {
      const dckpt = await import('../commands/dynamo-checkpoint.js');
      const opts = await dckpt.complete(raw, deps);
      dckpt.validate(opts);
      outcome = await dckpt.run(opts, deps);
    } else if (name === 'checkpoint') {
      const checkpoint = await import('../commands/checkpoint.js');
      const opts = await checkpoint.complete(raw, deps);
      checkpoint.validate(opts);
      outcome = await checkpoint.run(opts, deps);
    } else {
      const restore = await import('../commands/restore.js');
      const opts = await restore.complete(raw, deps);
      restore.validate(opts);
      outcome = await restore.run(opts, deps);
      if (verbose && 'dryRun' in outcome && outcome.patch !== undefined) {
        reporter.info(`patch (application/merge-patch+json): ${JSON.stringify(outcome.patch)}`);
      }
    }
  };

  const programName = io.programName ?? 'snapshotctl';
  const program = buildProgram(packageVersion(), onAction, programName);
  program.exitOverride();
  // Commander's own errors quote what was typed (`unknown option '...'`): escape it.
  const writeErr = (text: string) => io.stderr(escapeControls(text, { multiline: true }));
  program.configureOutput({ writeOut: io.stdout, writeErr });
  const all = (c: typeof program): (typeof program)[] => [c, ...c.commands.flatMap(all)];
  for (const cmd of all(program)) {
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: io.stdout, writeErr });
  }
  const names = flagNames(program);
  const args = normalizeGoFlags(argv, names.long, names.boolean);
  if (args.length === 0) {
    io.stdout(program.helpInformation());
    return EXIT.ok;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    reporter?.stop();
    if (exitCode !== undefined) return exitCode;
    if (outcome) {
      // Loaded only when there is a result to print: keeps `--help` start-up light.
      const { formatDryRun, formatResult } = await (output ?? import('./output.js'));
      io.stdout('dryRun' in outcome ? formatDryRun(outcome, format) : formatResult(outcome, format));
    }
    return EXIT.ok;
  } catch (err) {
    reporter?.stop();
    return await reportFailure(err, io, format, programName);
  }
}

async function reportFailure(err: unknown, io: CliIO, format: OutputFormat, programName: string): Promise<ExitCode> {
  if (err instanceof CommanderError) {
    // Help and version are not errors; commander already printed them.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      return EXIT.ok;
    }
    io.stderr(`hint: run \`${programName} --help\` or \`${programName} <command> --help\` for the flags and examples\n`);
    return EXIT.usage;
  }
  if (err instanceof SnapshotError) {
    const result = err.result as OperationResult | undefined;
    if (result && typeof result === 'object' && 'status' in result) io.stdout((await import('./output.js')).formatResult(result, format));
    printError(err, io);
    return err.exitCode;
  }
  // A bug, not user input: say so plainly, with the stack for the report.
  io.stderr(`error: unexpected failure: ${escapeControls(err instanceof Error ? (err.stack ?? err.message) : String(err), { multiline: true })}\n`);
  io.stderr('hint: this is a bug in snapshotctl; please report it with the command line you ran\n');
  return EXIT.failed;
}

/** The line(s) a second signal prints: what is left, and how to remove it. */
export function secondSignalMessage(sig: string, leftovers: Leftovers): string {
  const left = leftBehindLines(leftovers.list());
  return `\nreceived ${sig} again: exiting without finishing cleanup\n${left.map((l) => `${l}\n`).join('')}`;
}

/** The real process: signals abort the run; a second signal exits at once, naming what it left. */
export function processIO(): CliIO {
  const controller = new AbortController();
  const leftovers = new Leftovers();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(secondSignalMessage(sig, leftovers));
      process.exit(EXIT.interrupted);
    }
    process.stderr.write(`\nreceived ${sig}: stopping and cleaning up (press Ctrl-C again to exit at once)\n`);
    controller.abort(new Error(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    // kubectl runs a plugin by its file name: `kubectl snapshot` execs kubectl-snapshot.
    programName: basename(process.argv[1] ?? '') === 'kubectl-snapshot' ? 'kubectl snapshot' : 'snapshotctl',
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    isTTY: process.stderr.isTTY === true,
    env: process.env,
    signal: controller.signal,
    leftovers,
    stderrStream: process.stderr,
    stdinIsTTY: process.stdin.isTTY === true,
    prompt: async (question) => {
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
    readStdin: () => readBoundedStream(process.stdin, { signal: controller.signal }),
  };
}

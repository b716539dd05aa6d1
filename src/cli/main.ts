/**
 * The entry point: it builds what the verbs take from the process, runs every verb
 * through one path (the dispatch table in verbs.ts), and turns typed errors into exit
 * codes (docs/cli.md "Exit codes"). The layers around it: docs/architecture.md.
 */
import { readFileSync } from 'node:fs';
import { basename, delimiter } from 'node:path';
import { CommanderError } from 'commander';
import type { CommandDeps, DryRunResult, OperationResult, OutputFormat } from '../commands/context.js';
import { EXIT, SnapshotError, ValidationError, type ExitCode } from '../errors.js';
import type { KubeClient, RequestLogger } from '../kube/types.js';
import { normalizeGoFlags } from './args.js';
import { buildProgram, flagNames, type CommandName } from './program.js';
import { createReporter, type CliReporter } from './reporter.js';
import { clientFactory, VERBS, type ClusterVerbIO } from './verbs.js';
import { escapeControls, oneLine } from './terminal-text.js';
import { readBoundedStream, readInputFile } from './input-file.js';
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

/**
 * The result printer, loaded once. Checkpoint and restore start it before they wait
 * (`VerbContext.preloadOutput`); the result is then printed from the module already in
 * hand, with no module resolution between the verdict and the exit. Nothing else loads
 * it before there is a result, which keeps `--help` start-up light.
 */
let outputModule: Promise<typeof import('./output.js')> | undefined;
function loadOutput(): Promise<typeof import('./output.js')> {
  return (outputModule ??= import('./output.js'));
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

  let exitCode: number | undefined;
  const onAction = async (name: CommandName, raw: Record<string, unknown>): Promise<void> => {
    const verb = VERBS[name];
    const ctx = {
      io,
      main,
      // A failed load is reported where the result is printed (it awaits the same promise).
      preloadOutput: () => void loadOutput().catch(() => undefined),
      // Read only by the verbs that print it (validate's SARIF).
      get version() {
        return packageVersion();
      },
    };
    if (verb.kind === 'local') {
      exitCode = await verb.run(raw, ctx);
      return;
    }
    format = (typeof raw['output'] === 'string' ? raw['output'] : 'kv') as OutputFormat;
    const quiet = raw['quiet'] === true;
    const verbose = raw['verbose'] === true;
    const colorAllowed = raw['color'] !== false && io.isTTY && !io.env['NO_COLOR'] && !io.env['CI'];
    const now = io.now ?? Date.now;
    const cliReporter = await createReporter({
      write: io.stderr,
      interactive: colorAllowed,
      color: colorAllowed,
      quiet,
      now,
      ...(io.stderrStream ? { stream: io.stderrStream } : {}),
    });
    reporter = cliReporter;
    const logger: RequestLogger | undefined = verbose
      ? (e) => {
          reporter?.info(`${e.method} ${e.url} -> ${e.status || 'no response'} (${e.ms}ms)`);
          if (e.body !== undefined) reporter?.info(`  body: ${JSON.stringify(e.body)}`);
        }
      : undefined;
    const deps: CommandDeps = {
      kube: clientFactory(io),
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
      reporter: cliReporter,
      ...(logger ? { logger } : {}),
      ...(io.leftovers ? { leftovers: io.leftovers } : {}),
    };
    const verbIO: ClusterVerbIO = {
      stdout: io.stdout,
      stderr: io.stderr,
      stdinIsTTY: io.stdinIsTTY === true,
      ...(io.prompt ? { prompt: io.prompt } : {}),
      color: colorAllowed,
      quiet,
      verbose,
    };
    const done = await verb.run(raw, { deps, reporter: cliReporter, io: verbIO }, ctx);
    if ('exitCode' in done) exitCode = done.exitCode;
    else outcome = done.result;
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
      const { formatDryRun, formatResult } = await loadOutput();
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
    if (result && typeof result === 'object' && 'status' in result) io.stdout((await loadOutput()).formatResult(result, format));
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

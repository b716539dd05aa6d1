/**
 * Progress on stderr: an ora spinner with the elapsed time and current phase on a
 * TTY; plain timestamped lines otherwise (CI logs). stdout is never touched here.
 */
import type { Reporter } from '../commands/context.js';
import { escapeControls, oneLine } from './terminal-text.js';

export interface ReporterOptions {
  write: (text: string) => void;
  /** stderr is a TTY and colour/spinner are allowed (not CI, not NO_COLOR). */
  interactive: boolean;
  color: boolean;
  quiet: boolean;
  now: () => number;
  /** ora's stream when interactive. */
  stream?: NodeJS.WritableStream;
}

export interface CliReporter extends Reporter {
  /** Stop the spinner, leaving the terminal clean. */
  stop(): void;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** A reporter for the CLI; the spinner is only loaded when it will be shown. Control characters are escaped. */
export async function createReporter(opts: ReporterOptions): Promise<CliReporter> {
  const plain = await createPlainReporter(opts);
  // Phases, notes and warnings carry names and messages from input and the cluster.
  return {
    phase: (text) => plain.phase(oneLine(text)),
    info: (text) => plain.info(escapeControls(text, { multiline: true })),
    warn: (text) => plain.warn(oneLine(text)),
    stop: () => plain.stop(),
  };
}

async function createPlainReporter(opts: ReporterOptions): Promise<CliReporter> {
  const started = opts.now();
  const paint = opts.color ? (await import('chalk')).default : undefined;
  const warnTag = paint ? paint.yellow('warning:') : 'warning:';
  // A terminal that reports no width (e.g. under `script` or some CI pseudo-terminals)
  // makes a spinner's line arithmetic divide by zero: print plain lines there instead.
  const stream = opts.stream ?? process.stderr;
  const columns = (stream as { columns?: number }).columns ?? 0;
  if (!opts.interactive || opts.quiet || !(columns > 0)) {
    let last = '';
    return {
      phase(text) {
        if (opts.quiet || text === last) return;
        last = text;
        opts.write(`[${seconds(opts.now() - started).padStart(6)}] ${text}\n`);
      },
      info(text) {
        if (!opts.quiet) opts.write(`${text}\n`);
      },
      warn(text) {
        opts.write(`${warnTag} ${text}\n`);
      },
      stop() {},
    };
  }
  const { default: ora } = await import('ora');
  let phase = 'starting';
  const spinner = ora({ text: phase, stream, discardStdin: false });
  const render = () => {
    spinner.text = `${phase} ${paint ? paint.dim(seconds(opts.now() - started)) : seconds(opts.now() - started)}`;
  };
  const timer = setInterval(render, 200);
  timer.unref();
  let running = false;
  const persist = (line: string) => {
    if (running) spinner.clear();
    opts.write(`${line}\n`);
    if (running) spinner.render();
  };
  return {
    phase(text) {
      phase = text;
      render();
      if (!running) {
        running = true;
        spinner.start();
      }
    },
    info(text) {
      persist(text);
    },
    warn(text) {
      persist(`${warnTag} ${text}`);
    },
    stop() {
      clearInterval(timer);
      if (running) spinner.stop();
      running = false;
    },
  };
}

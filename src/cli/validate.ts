/**
 * `validate` from the entry point: builds the file seams, runs the command and prints
 * the result. Kept apart from main.ts so `validate` loads no Kubernetes client code.
 */
import { readdir } from 'node:fs/promises';
import { readInputFile } from './input-file.js';
import { complete, exitCodeFor, run, validate as validateOptions, type RawValidateOptions, type ValidateDeps } from '../commands/validate.js';
import { formatValidateResult } from './validate-output.js';

/** The slice of the CLI's IO that validate needs. */
export interface ValidateIO {
  stdout: (text: string) => void;
  isTTY: boolean;
  env: Record<string, string | undefined>;
  readStdin: () => Promise<string>;
  readFile?: (path: string) => Promise<string>;
  /** Aborted on Ctrl-C: a read in progress stops (exit 130). */
  signal?: AbortSignal;
}

/** Run `validate`; resolves to the exit code. Typed errors (bad flags) propagate to main. */
export async function runValidate(raw: Record<string, unknown>, io: ValidateIO, version: string): Promise<number> {
  const deps: ValidateDeps = {
    readFile: io.readFile ?? ((p) => readInputFile(p, io.signal ? { signal: io.signal } : {})),
    readStdin: io.readStdin,
    readDir: async (p) => (await readdir(p, { withFileTypes: true })).map((e) => ({ name: e.name, isDirectory: e.isDirectory() })),
  };
  const opts = await complete(raw as RawValidateOptions, deps);
  validateOptions(opts);
  const result = await run(opts, deps);
  // Text goes to stdout too: it is the result. Colour only for a terminal that wants it.
  const color = opts.output === 'text' && raw['color'] !== false && io.isTTY && !io.env['NO_COLOR'] && !io.env['CI'];
  io.stdout(formatValidateResult(result, opts.output, { color, version }));
  return exitCodeFor(result);
}

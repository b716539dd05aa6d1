/**
 * Entry for `preflight`: complete/validate/run, then the checklist on stderr and the
 * result on stdout. Exit codes: 0 every check passed (warnings allowed), 1 a check
 * failed, 2 bad flags or an unreadable manifest file, 3 the cluster could not be
 * reached or refused the preflight's own reads, 130 interrupted.
 */
import * as preflight from '../commands/preflight.js';
import type { CommandDeps } from '../commands/context.js';
import { formatChecklist, formatPreflight, type ChecklistColors } from './preflight-output.js';

export interface PreflightIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Colour allowed on stderr. */
  color: boolean;
  /** -q: only failed and warned checks on stderr. */
  quiet: boolean;
}

/** Run `preflight`; resolves to the exit code. */
export async function runPreflight(raw: Record<string, unknown>, deps: CommandDeps, io: PreflightIO): Promise<number> {
  const opts = await preflight.complete(raw as preflight.RawPreflightOptions, deps);
  preflight.validate(opts);
  const result = await preflight.run(opts, deps);
  // The spinner must not draw over the checklist.
  (deps.reporter as { stop?: () => void }).stop?.();
  const colors: ChecklistColors | undefined = io.color ? (await import('chalk')).default : undefined;
  io.stderr(formatChecklist(result, colors, io.quiet));
  io.stdout(formatPreflight(result, opts.output));
  return preflight.preflightExitCode(result);
}

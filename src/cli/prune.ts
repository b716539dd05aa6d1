/** `prune`: complete/validate, the plan, the question on a terminal, run, then the result on stdout. */
import * as prune from '../commands/prune.js';
import type { CommandDeps } from '../commands/context.js';
import { EXIT, UsageError } from '../errors.js';
import { formatPrune, pruneQuestion } from './prune-output.js';
import type { ClusterVerbIO } from './verbs.js';

/** Run `prune`; resolves to the exit code (1 when the user said no). */
export async function runPrune(raw: Record<string, unknown>, deps: CommandDeps, io: ClusterVerbIO): Promise<number> {
  const opts = await prune.complete(raw, deps);
  prune.validate(opts);
  if (!opts.yes && !opts.dryRun && !io.stdinIsTTY) {
    throw new UsageError('refusing to prune without --yes: stdin is not a terminal, so nobody can confirm', 'pass --yes (-y) to prune from a script, or --dry-run to see what would go');
  }
  const plan = await prune.plan(opts, deps);
  if (plan.items.length > 0 && !opts.yes && !opts.dryRun) {
    (deps.reporter as { stop?: () => void }).stop?.();
    const answer = io.prompt ? await io.prompt(pruneQuestion(plan)) : '';
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.stderr('nothing removed\n');
      return EXIT.failed;
    }
  }
  const result = await prune.run(opts, plan, deps);
  io.stdout(formatPrune(result, plan, opts.output, prune.describeAge(opts)));
  return EXIT.ok;
}

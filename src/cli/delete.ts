/** `delete`: complete/validate, the plan, the question on a terminal, run, then the result on stdout. */
import * as del from '../commands/delete.js';
import type { CommandDeps } from '../commands/context.js';
import { EXIT, UsageError } from '../errors.js';
import { deleteQuestion, formatDelete } from './delete-output.js';
import type { ClusterVerbIO } from './verbs.js';

/** Run `delete`; resolves to the exit code (1 when a checkpoint was not deleted or the user said no). */
export async function runDelete(raw: Record<string, unknown>, deps: CommandDeps, io: ClusterVerbIO): Promise<number> {
  const opts = await del.complete(raw, deps);
  del.validate(opts);
  if (!opts.yes && !io.stdinIsTTY) {
    throw new UsageError('refusing to delete without --yes: stdin is not a terminal, so nobody can confirm', 'pass --yes (-y) to delete from a script');
  }
  const plan = await del.plan(opts, deps);
  if (plan.items.length === 0) {
    io.stderr(`No checkpoints found in namespace "${opts.namespace}"${opts.selector ? ` matching "${opts.selector}"` : ''}; nothing deleted.\n`);
    return EXIT.ok;
  }
  if (!opts.yes && plan.items.some((i) => i.found)) {
    // The spinner must not draw over the question.
    (deps.reporter as { stop?: () => void }).stop?.();
    const answer = io.prompt ? await io.prompt(deleteQuestion(plan, opts)) : '';
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.stderr('nothing deleted\n');
      return EXIT.failed;
    }
  }
  const result = await del.run(opts, plan, deps);
  io.stdout(formatDelete(result, opts.output));
  const failed = result.items.filter((i) => i.status !== 'deleted');
  if (failed.length > 0) {
    io.stderr(`error: ${failed.length} of ${result.items.length} checkpoint${result.items.length === 1 ? '' : 's'} not deleted\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

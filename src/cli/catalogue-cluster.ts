/**
 * The catalogue commands that talk to the cluster: `list`, `describe`, `delete`, and
 * the hidden `__complete`. Each runs complete/validate/run and prints here.
 */
import * as del from '../commands/delete.js';
import * as describe from '../commands/describe.js';
import * as list from '../commands/list.js';
import * as prune from '../commands/prune.js';
import type { CommandDeps } from '../commands/context.js';
import { EXIT, UsageError } from '../errors.js';
import type { CatalogueIO } from './catalogue.js';
import { deleteQuestion, formatDelete, formatDescribe, formatList, formatPrune, pruneQuestion, type Colorizer } from './catalogue-output.js';
import type { CatalogueCommandName } from './catalogue-program.js';

async function colorizer(io: CatalogueIO): Promise<Colorizer | undefined> {
  return io.color ? (await import('chalk')).default : undefined;
}

export async function runCatalogueCluster(name: CatalogueCommandName, raw: Record<string, unknown>, deps: CommandDeps, io: CatalogueIO): Promise<number> {
  switch (name) {
    case 'list': {
      const opts = await list.complete(raw, deps);
      list.validate(opts);
      const result = await list.run(opts, deps);
      if (result.items.length === 0 && (opts.output === 'table' || opts.output === 'wide')) {
        io.stderr(`No checkpoints found ${opts.namespace === undefined ? 'in any namespace' : `in namespace "${opts.namespace}"`}.\n`);
        return EXIT.ok;
      }
      io.stdout(formatList(result, opts.output, deps.now(), await colorizer(io)));
      return EXIT.ok;
    }
    case 'describe': {
      const opts = await describe.complete(raw, deps);
      describe.validate(opts);
      io.stdout(formatDescribe(await describe.run(opts, deps), opts.output, deps.now()));
      return EXIT.ok;
    }
    case 'delete': {
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
    case 'prune': {
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
    default:
      throw new UsageError(`${name} is not available yet`);
  }
}

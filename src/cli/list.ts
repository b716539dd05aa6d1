/** `list`: complete/validate/run, then the table or document on stdout. */
import * as list from '../commands/list.js';
import type { CommandDeps } from '../commands/context.js';
import { EXIT } from '../errors.js';
import { formatList } from './list-output.js';
import type { ClusterVerbIO } from './verbs.js';

/** Run `list`; resolves to the exit code. */
export async function runList(raw: Record<string, unknown>, deps: CommandDeps, io: ClusterVerbIO): Promise<number> {
  const opts = await list.complete(raw, deps);
  list.validate(opts);
  const result = await list.run(opts, deps);
  if (result.items.length === 0 && (opts.output === 'table' || opts.output === 'wide')) {
    io.stderr(`No checkpoints found ${opts.namespace === undefined ? 'in any namespace' : `in namespace "${opts.namespace}"`}.\n`);
    return EXIT.ok;
  }
  io.stdout(formatList(result, opts.output, deps.now(), io.color ? (await import('chalk')).default : undefined));
  return EXIT.ok;
}

/**
 * The catalogue commands that talk to the cluster: `list`, `describe`, `delete`, and
 * the hidden `__complete`. Each runs complete/validate/run and prints here.
 */
import * as describe from '../commands/describe.js';
import * as list from '../commands/list.js';
import type { CommandDeps } from '../commands/context.js';
import { EXIT, UsageError } from '../errors.js';
import type { CatalogueIO } from './catalogue.js';
import { formatDescribe, formatList, type Colorizer } from './catalogue-output.js';
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
    default:
      throw new UsageError(`${name} is not available yet`);
  }
}

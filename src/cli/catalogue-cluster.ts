/** The catalogue commands that talk to the cluster (filled in below). */
import type { CommandDeps } from '../commands/context.js';
import { UsageError } from '../errors.js';
import type { CatalogueIO } from './catalogue.js';
import type { CatalogueCommandName } from './catalogue-program.js';

export async function runCatalogueCluster(name: CatalogueCommandName, _raw: Record<string, unknown>, _deps: CommandDeps, _io: CatalogueIO): Promise<number> {
  throw new UsageError(`${name} is not available yet`);
}

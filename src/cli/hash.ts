/** `hash`: complete/validate/run (offline), then the hash or document on stdout. */
import * as hash from '../commands/hash.js';
import type { CommandDeps } from '../commands/context.js';
import { EXIT } from '../errors.js';
import { formatHash } from './hash-output.js';
import type { ClusterVerbIO } from './verbs.js';

/** Run `hash`; resolves to the exit code. */
export async function runHash(raw: Record<string, unknown>, deps: CommandDeps, io: ClusterVerbIO): Promise<number> {
  const opts = await hash.complete(raw, deps);
  hash.validate(opts);
  io.stdout(formatHash(hash.run(opts), opts.output));
  return EXIT.ok;
}

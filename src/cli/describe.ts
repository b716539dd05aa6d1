/** `describe`: complete/validate/run, then the report or document on stdout. */
import * as describe from '../commands/describe.js';
import type { CommandDeps } from '../commands/context.js';
import { EXIT } from '../errors.js';
import { formatDescribe } from './describe-output.js';
import type { ClusterVerbIO } from './verbs.js';

/** Run `describe`; resolves to the exit code. */
export async function runDescribe(raw: Record<string, unknown>, deps: CommandDeps, io: ClusterVerbIO): Promise<number> {
  const opts = await describe.complete(raw, deps);
  describe.validate(opts);
  io.stdout(formatDescribe(await describe.run(opts, deps), opts.output, deps.now()));
  return EXIT.ok;
}

/** Wiring of `snapshotctl agent`: log lines on stderr; the work is in src/commands/agent.ts. */
import { EXIT } from '../errors.js';
import type { AgentLogLevel } from '../agent/agent.js';
import { complete, LOG_LEVELS, run, validate, type RawAgentOptions } from '../commands/agent.js';
import type { CliIO } from './main.js';

/** Run the agent in the foreground; resolves to the exit code (0 after a clean stop). */
export async function runAgentCommand(raw: Record<string, unknown>, io: CliIO): Promise<number> {
  const opts = await complete(raw as RawAgentOptions, {
    env: io.env,
    readFile: io.readFile ?? (async (p) => (await import('node:fs/promises')).readFile(p, 'utf8')),
  });
  validate(opts);
  const now = io.now ?? Date.now;
  const floor = LOG_LEVELS.indexOf(opts.logLevel as AgentLogLevel);
  const log = (level: AgentLogLevel, message: string) => {
    if (LOG_LEVELS.indexOf(level) >= floor) io.stderr(`${new Date(now()).toISOString()} ${level} ${message}\n`);
  };
  const result = await run(opts, { env: io.env, log, signal: io.signal });
  log('info', `snapshot agent stopped (${result.stoppedBy}); exiting`);
  return EXIT.ok;
}

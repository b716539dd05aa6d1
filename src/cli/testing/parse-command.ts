/** Test helper: does a command line printed as a hint parse as a command of this CLI? */
import type { Command } from 'commander';
import { normalizeGoFlags } from '../args.js';
import { buildProgram, flagNames, type CommandName } from '../program.js';

/**
 * Parse `line` (`snapshotctl ...` or `kubectl snapshot ...`, words split on spaces)
 * through the real commander program without running anything. Resolves to the
 * command it selects, or to commander's error message.
 */
export async function parseCommandLine(line: string): Promise<{ command: CommandName; raw: Record<string, unknown> } | { error: string }> {
  const words = line.trim().split(/\s+/);
  const args = words[0] === 'kubectl' && words[1] === 'snapshot' ? words.slice(2) : words[0] === 'snapshotctl' ? words.slice(1) : undefined;
  if (!args) return { error: `not a snapshotctl command line: ${line}` };
  let selected: { command: CommandName; raw: Record<string, unknown> } | undefined;
  const program = buildProgram('0.0.0-test', async (command, raw) => {
    selected = { command, raw };
  });
  let errors = '';
  const quiet = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: () => {}, writeErr: (t) => (errors += t) });
    for (const sub of cmd.commands) quiet(sub);
  };
  quiet(program);
  try {
    // As the entry does: v1.0.x's Go-style `-manifest x` spellings first.
    const names = flagNames(program);
    await program.parseAsync(normalizeGoFlags(args, names.long, names.boolean), { from: 'user' });
  } catch (err) {
    return { error: errors.trim() || (err instanceof Error ? err.message : String(err)) };
  }
  return selected ?? { error: `no command selected by: ${line}` };
}

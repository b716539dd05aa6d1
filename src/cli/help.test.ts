/**
 * Help texts and printed hints: every command line they show must parse as a command of
 * this CLI (commander's own parser, nothing run).
 */
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './testing/parse-command.js';

describe('parseCommandLine (the check the hint tests rely on)', () => {
  it.each([
    ['snapshotctl demo --engine criu', 'demo'],
    ['snapshotctl dev down', 'dev down'],
    ['kubectl snapshot list -n ml', 'list'],
  ] as const)('%s parses as %s', async (line, command) => {
    expect(await parseCommandLine(line)).toMatchObject({ command });
  });

  it.each([
    ['snapshotctl demo --runtime process', /unknown option '--runtime'/],
    ['snapshotctl demo --engine', /argument missing/],
    ['snapshotctl restor --pod x', /unknown command 'restor'/],
  ])('%s is refused', async (line, error) => {
    const r = await parseCommandLine(line);
    expect(r).toHaveProperty('error');
    expect((r as { error: string }).error).toMatch(error);
  });
});

/**
 * Accept v1.0.x's Go `flag` spellings: `-flag value`, `-flag=value`, `--flag=value`,
 * and `-bool=true|false`. Commander only knows `--flag`, so single-dash long flags are
 * rewritten before parsing; anything else passes through untouched.
 */

/**
 * @param argv arguments after the program name
 * @param longFlags long option names that exist (without dashes)
 * @param booleanFlags long option names that take no value
 */
export function normalizeGoFlags(argv: string[], longFlags: ReadonlySet<string>, booleanFlags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    const m = /^(--?)([A-Za-z][\w-]*)(=(.*))?$/s.exec(arg);
    if (!m || (m[1] === '-' && m[2]!.length === 1) || !longFlags.has(m[2]!)) {
      out.push(arg);
      continue;
    }
    const name = m[2]!;
    const value = m[4];
    if (booleanFlags.has(name) && value !== undefined) {
      // Go accepts -flag=true / -flag=false for booleans; commander does not.
      const v = value.toLowerCase();
      if (v === 'true' || v === '1' || v === 't') out.push(`--${name}`);
      else if (v === 'false' || v === '0' || v === 'f') {
        if (name.startsWith('no-')) out.push(`--${name.slice(3)}`);
        // Otherwise false is the default: drop the flag.
      } else out.push(`--${name}=${value}`);
      continue;
    }
    out.push(value !== undefined ? `--${name}=${value}` : `--${name}`);
  }
  return [...out, ...argv.slice(i)];
}

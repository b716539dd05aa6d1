/** Escaping control characters in human output. */
import { describe, expect, it } from 'vitest';
import { escapeControls, hasControls, oneLine } from './terminal-text.js';

describe('escapeControls', () => {
  it.each([
    ['plain text stays', 'vllm-worker ok: ünïcödé 💥', 'vllm-worker ok: ünïcödé 💥'],
    ['ESC of a window-title sequence', '\u001b]0;pwned\u0007', '\\x1b]0;pwned\\x07'],
    ['CSI erase line and carriage return', 'a\u001b[2K\rfake', 'a\\x1b[2K\\x0dfake'],
    ['DEL', 'a\u007fb', 'a\\x7fb'],
    ['C1 CSI (U+009B)', 'a\u009b31mb', 'a\\x9b31mb'],
    ['NUL and backspace', '\u0000\b', '\\x00\\x08'],
    ['newline and tab in a single-line field', 'a\nb\tc', 'a\\x0ab\\x09c'],
  ])('%s', (_why, input, out) => expect(escapeControls(input)).toBe(out));

  it('multiline keeps newlines and tabs, escapes the rest', () => {
    expect(escapeControls('a: 1\n\tb: \u001b[31m2\r\n', { multiline: true })).toBe('a: 1\n\tb: \\x1b[31m2\\x0d\n');
  });

  it('oneLine folds line breaks into a space first', () => {
    expect(oneLine('restore failed:\n  criu said \u001b[2Jno')).toBe('restore failed: criu said \\x1b[2Jno');
    expect(hasControls('ok')).toBe(false);
    expect(hasControls('a\u009bb')).toBe(true);
  });
});

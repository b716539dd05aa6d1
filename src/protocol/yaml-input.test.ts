/** The one way snapshotctl reads YAML: merge keys applied, aliases capped. */
import { describe, expect, it } from 'vitest';
import { parsePodManifest } from './manifest.js';
import { parseYamlValue } from './yaml-input.js';

describe('parseYamlValue', () => {
  it('applies a plain merge key, later keys winning', () => {
    expect(parseYamlValue('a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  y: 3\n')).toEqual({ a: { x: 1, y: 2 }, b: { x: 1, y: 3 } });
  });
  it('applies a list of merge sources', () => {
    expect(parseYamlValue('a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: [*a, *b]}\n')).toMatchObject({ c: { x: 1, y: 2 } });
  });
  it('keeps a quoted "<<" (JSON) as a key, as kubectl does', () => {
    expect(parseYamlValue('{"a": {"<<": {"x": 1}}}')).toEqual({ a: { '<<': { x: 1 } } });
    const { object } = parsePodManifest(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'w', labels: { '<<': 'x' } } }));
    expect((object?.['metadata'] as { labels: Record<string, string> }).labels).toEqual({ '<<': 'x' });
  });
  it('refuses several documents and alias bombs', () => {
    expect(() => parseYamlValue('a: 1\n---\nb: 2\n')).toThrow(/2 documents/);
    const laughs = `a: &a [x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\n`;
    expect(() => parseYamlValue(laughs)).toThrow(/alias/i);
  });
  it('empty text is null', () => {
    expect(parseYamlValue('')).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { parseDocuments } from './documents.js';
import { keyPath, parsePath } from './util.js';

describe('parseDocuments', () => {
  const text = 'a: 1\n---\n# c\nmetadata:\n  labels:\n    nvidia.com/x: "y"\nspec:\n  containers:\n    - name: a\n      image: b\n---\n';
  it('splits documents, drops a trailing empty one, and locates field paths', () => {
    const docs = parseDocuments(text);
    expect(docs.map((d) => [d.index, d.position.line])).toEqual([
      [0, 1],
      [1, 4],
    ]);
    const doc = docs[1]!;
    expect(doc.locate('spec.containers[0].image')).toEqual({ line: 10, column: 7 });
    expect(doc.locate('metadata.labels["nvidia.com/x"]')).toEqual({ line: 6, column: 5 });
    // A missing field points at its nearest existing parent.
    expect(doc.locate('spec.containers[0].readinessProbe')).toEqual({ line: 9, column: 7 });
    expect(doc.locate('spec.volumes')).toEqual({ line: 7, column: 1 });
  });
  it('reports a syntax error with its position', () => {
    const [doc] = parseDocuments('a: 1\nb: [\n');
    expect(doc?.error?.position.line).toBeGreaterThanOrEqual(2);
  });
});

describe('field paths', () => {
  it('round-trip through keyPath and parsePath', () => {
    const path = keyPath(keyPath('metadata', 'labels'), 'nvidia.com/snapshot-checkpoint-id');
    expect(path).toBe('metadata.labels["nvidia.com/snapshot-checkpoint-id"]');
    expect(parsePath(`${path}`)).toEqual(['metadata', 'labels', 'nvidia.com/snapshot-checkpoint-id']);
    expect(parsePath('spec.containers[0].image')).toEqual(['spec', 'containers', 0, 'image']);
    expect(parsePath('--checkpoint-id')).toBeUndefined();
  });
});

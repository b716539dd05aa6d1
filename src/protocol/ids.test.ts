/**
 * Checkpoint IDs (§4 generated IDs, §9/§11 validation) and the checkpoint location (§2).
 */
import { describe, expect, it } from 'vitest';
import { checkArtifactVersion, checkCheckpointId, generateCheckpointId, isLabelValue } from './ids.js';
import { checkpointLocation } from './location.js';

const a63 = 'a'.repeat(63);
const a64 = 'a'.repeat(64);

describe('checkCheckpointId: usable IDs (label value and path segment)', () => {
  it.each([
    ['single letter', 'a'],
    ['single digit', '7'],
    ['generated form', 'manual-snapshot-1743712345678901234'],
    ['mixed case with . _ -', 'Llama2.7b_tp-1'],
    ['exactly 63 characters', a63],
    ['single dots inside', 'v1.0.3'],
  ])('%s: %j is accepted', (_why, id) => {
    expect(checkCheckpointId(id)).toEqual([]);
    expect(isLabelValue(id)).toBe(true);
  });
});

describe('checkCheckpointId: refused IDs', () => {
  it.each([
    ['empty', ''],
    ['64 characters (label value limit is 63)', a64],
    ['forward slash', 'a/b'],
    ['backslash', 'a\\b'],
    ['`..` inside', 'a..b'],
    ['only `..`', '..'],
    ['path traversal', '../etc'],
    ['leading dash', '-abc'],
    ['trailing dash', 'abc-'],
    ['leading dot', '.abc'],
    ['trailing dot', 'abc.'],
    ['leading underscore', '_abc'],
    ['trailing underscore', 'abc_'],
    ['space', 'a b'],
    ['colon', 'a:b'],
    ['non-ASCII letter', 'caf\u00e9'],
    ['newline', 'abc\n'],
  ])('%s: %j is refused with at least one problem', (_why, id) => {
    expect(checkCheckpointId(id).length).toBeGreaterThan(0);
  });

  it('reports every problem of one ID together (too long and a path separator)', () => {
    const problems = checkCheckpointId(`${'a'.repeat(70)}/b`);
    expect(problems.length).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['64 characters', a64, false],
    ['`..` is a valid label value but a bad path segment', 'a..b', true],
    ['a slash is not a label value', 'a/b', false],
  ])('isLabelValue, %s', (_why, value, expected) => {
    expect(isLabelValue(value)).toBe(expected);
  });

  it('an empty string is a valid label value (Kubernetes allows it) but not a checkpoint ID', () => {
    expect(isLabelValue('')).toBe(true);
    expect(checkCheckpointId('')).not.toEqual([]);
  });
});

describe('generateCheckpointId: manual-snapshot-<UTC Unix nanoseconds>', () => {
  it.each([
    [1743712345678901234n, 'manual-snapshot-1743712345678901234'],
    [0n, 'manual-snapshot-0'],
    [1n, 'manual-snapshot-1'],
  ])('%s ns → %s', (nanos, expected) => {
    expect(generateCheckpointId(nanos)).toBe(expected);
  });

  it('a generated ID for the current time is itself a valid ID', () => {
    const nanos = BigInt(Date.now()) * 1_000_000n;
    const id = generateCheckpointId(nanos);
    expect(id).toMatch(/^manual-snapshot-\d{19}$/);
    expect(checkCheckpointId(id)).toEqual([]);
  });
});

describe('checkpointLocation: <basePath>/<checkpointId>/versions/1', () => {
  it.each([
    ['/checkpoints', 'manual-snapshot-1743712345678901234', '/checkpoints/manual-snapshot-1743712345678901234/versions/1'],
    ['/checkpoints/', 'ckpt-a', '/checkpoints/ckpt-a/versions/1'],
    ['/mnt/snap', 'x', '/mnt/snap/x/versions/1'],
    ['/mnt/snap//', 'x', '/mnt/snap/x/versions/1'],
  ])('base %j, id %j → %s', (base, id, expected) => {
    expect(checkpointLocation(base, id)).toBe(expected);
  });
});

describe('checkArtifactVersion', () => {
  it.each(['1', '2', '10', '123456789'])('%j is accepted', (v) => {
    expect(checkArtifactVersion(v)).toEqual([]);
  });
  it.each(['', '0', '01', '-1', '1.0', '../1', '1/2', ' 1', '1\n', '1234567890', 'v1'])('%j is refused', (v) => {
    expect(checkArtifactVersion(v)).not.toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { editDistance } from '../protocol/edit-distance.js';
import { closestIds } from './verify-checkpoint.js';

describe('the closest checkpoint IDs for a mistyped one', () => {
  it('edit distance', () => {
    expect(editDistance('llama-8b', 'llama-8c')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('nearest first, at most three, none when nothing is near', () => {
    const known = ['llama-8b', 'llama-8b-v2', 'llama-70b', 'qwen3-8b', 'mistral'];
    expect(closestIds('llama-8c', known)).toEqual(['llama-8b']);
    expect(closestIds('lama-8b', known)).toEqual(['llama-8b']);
    // A prefix of several: each counts as near, alphabetical among equals.
    expect(closestIds('llama', known)).toEqual(['llama-70b', 'llama-8b', 'llama-8b-v2']);
    expect(closestIds('zzzzzz', known)).toEqual([]);
    expect(closestIds('mistral', known)).toEqual([]);
  });
});

/** Kubernetes names and the checkpoint base path (§9): what is refused before sending. */
import { describe, expect, it } from 'vitest';
import { checkBasePath, checkDnsLabel, checkDnsSubdomain } from './names.js';

describe('checkDnsLabel (namespaces, container names)', () => {
  it.each(['a', 'ml', 'kube-system', 'a'.repeat(63), 'x9'])('accepts %j', (v) => expect(checkDnsLabel(v)).toEqual([]));
  it.each([
    ['', /is empty/],
    ['Bad_NS', /not a DNS-1123 label/],
    ['../kube-system', /not a DNS-1123 label/],
    ['a'.repeat(64), /is 64 characters long; at most 63/],
    ['a.b', /not a DNS-1123 label/],
    ['-a', /not a DNS-1123 label/],
  ])('refuses %j', (v, why) => expect(checkDnsLabel(v).join(', ')).toMatch(why));
});

describe('checkDnsSubdomain (pod, node and PVC names)', () => {
  it.each(['a', 'gpu-1', 'node.example.com', 'a'.repeat(253)])('accepts %j', (v) => expect(checkDnsSubdomain(v)).toEqual([]));
  it.each([
    ['', /is empty/],
    ['Bad PVC', /not a DNS-1123 subdomain/],
    ['a..b', /not a DNS-1123 subdomain/],
    ['../etc', /not a DNS-1123 subdomain/],
    ['a'.repeat(254), /is 254 characters long; at most 253/],
  ])('refuses %j', (v, why) => expect(checkDnsSubdomain(v).join(', ')).toMatch(why));
});

describe('checkBasePath', () => {
  it.each(['/', '/checkpoints', '/checkpoints/', '/mnt/ckpt', '/a..b'])('accepts %j', (v) => expect(checkBasePath(v)).toEqual([]));
  it.each([
    ['', /is empty/],
    ['checkpoints', /not an absolute path/],
    ['/checkpoints/../etc', /contains `\.\.`/],
    ['/..', /contains `\.\.`/],
    ['//checkpoints', /not normalized \(write it as \/checkpoints\)/],
    ['/a/./b', /not normalized \(write it as \/a\/b\)/],
    ['/a\nb', /control character/],
  ])('refuses %j', (v, why) => expect(checkBasePath(v).join(', ')).toMatch(why));
});

/**
 * Kubernetes names and checkpoint paths, checked before they reach a URL, an object or
 * a command line (§9). Each check returns its problems as phrases that follow the
 * value ("is 64 characters long; ..."); empty when the value is usable.
 */
import { posix } from 'node:path';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Namespaces and container names (RFC 1123 label). */
export const DNS_LABEL_MAX = 63;
/** Pod, node and PVC names (RFC 1123 subdomain). */
export const DNS_SUBDOMAIN_MAX = 253;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function tooLong(value: string, max: number): string[] {
  return value.length > max ? [`is ${value.length} characters long; at most ${max} are allowed`] : [];
}

/** Problems with a DNS-1123 label: namespaces, container names. */
export function checkDnsLabel(value: string): string[] {
  if (value === '') return ['is empty'];
  const problems = tooLong(value, DNS_LABEL_MAX);
  if (!DNS_LABEL.test(value)) problems.push('is not a DNS-1123 label: use lower-case letters, digits and `-`, starting and ending with a letter or digit');
  return problems;
}

/** Problems with a DNS-1123 subdomain: pod, node and PVC names. */
export function checkDnsSubdomain(value: string): string[] {
  if (value === '') return ['is empty'];
  const problems = tooLong(value, DNS_SUBDOMAIN_MAX);
  if (!DNS_SUBDOMAIN.test(value)) {
    problems.push('is not a DNS-1123 subdomain: use lower-case letters, digits, `-` and `.`, each dot-separated part starting and ending with a letter or digit');
  }
  return problems;
}

/**
 * Problems with the path where the agent mounts the checkpoint PVC: it is mounted into
 * pods and prefixes every `rm -rf` and `cp`, so it must be absolute and already
 * normalized (no `.` or `..` segments, no `//`). One trailing slash is tolerated.
 */
export function checkBasePath(path: string): string[] {
  if (path === '') return ['is empty'];
  const problems: string[] = [];
  if (!path.startsWith('/')) problems.push('is not an absolute path');
  if (CONTROL.test(path)) problems.push('contains a control character');
  const segments = path.split('/').slice(1);
  if (segments.includes('..')) problems.push('contains `..`');
  const trimmed = path.length > 1 ? path.replace(/\/$/, '') : path;
  if (path.startsWith('/') && !segments.includes('..') && posix.normalize(trimmed) !== trimmed) {
    problems.push(`is not normalized (write it as ${posix.normalize(trimmed).replace(/(.)\/$/, '$1')})`);
  }
  return problems;
}

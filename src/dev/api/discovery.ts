/**
 * Discovery documents (`/version`, `/api`, `/apis`, group versions), built from the live
 * registry so CRDs appear as soon as they are created. kubectl reads these to map
 * `po`, `ds`, `dckpt` to resources and to learn verbs and scope.
 */
import { apiVersionOf, type ResourceInfo, type ResourceRegistry } from './resources.js';

/** The version the server reports (kubectl prints it; clients check major/minor). */
export const SERVER_VERSION = {
  major: '1',
  minor: '30',
  gitVersion: 'v1.30.0-snapshotctl-dev',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-04-17T00:00:00Z',
  goVersion: 'go1.22.2',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** `/api`: the core group's versions. */
export function apiVersions(hostPort: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: hostPort }] };
}

function group(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** `/apis`: every named group. */
export function apiGroupList(reg: ResourceRegistry): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...reg.groups()].map(([g, vs]) => group(g, vs)) };
}

/** `/apis/<group>`, or undefined if not served. */
export function apiGroup(reg: ResourceRegistry, name: string): Record<string, unknown> | undefined {
  const vs = reg.groups().get(name);
  return vs ? { kind: 'APIGroup', apiVersion: 'v1', ...group(name, vs) } : undefined;
}

function entry(r: ResourceInfo): Record<string, unknown>[] {
  const main: Record<string, unknown> = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs };
  if (r.shortNames.length > 0) main['shortNames'] = r.shortNames;
  if (r.categories && r.categories.length > 0) main['categories'] = r.categories;
  const subs = r.subresources.map((s) => ({ name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] }));
  if (r.group === '' && r.plural === 'pods') {
    subs.push({ name: 'pods/binding', singularName: '', namespaced: true, kind: 'Binding', verbs: ['create'] });
    subs.push({ name: 'pods/eviction', singularName: '', namespaced: true, kind: 'Eviction', verbs: ['create'] });
    subs.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
  }
  return [main, ...subs];
}

/** `/api/v1` or `/apis/<g>/<v>`, or undefined if not served. */
export function apiResourceList(reg: ResourceRegistry, groupName: string, version: string): Record<string, unknown> | undefined {
  const rs = reg.all().filter((r) => r.group === groupName && r.version === version);
  if (rs.length === 0) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(rs[0]!), resources: rs.flatMap(entry) };
}

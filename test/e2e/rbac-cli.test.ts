/**
 * manifests/rbac-cli.yaml against what the CLI really does. Every command of the
 * checkpoint lifecycle runs through the built binary on the dev cluster with a token
 * that holds exactly the file's rules (its Role in the namespace, its ClusterRole
 * cluster-wide); the dev server's authorizer judges every request and its request log
 * says which (verb, resource) the CLI used. So:
 * - a new API call without a grant in rbac-cli.yaml fails here (a 403 in the log, or
 *   a command that degrades or exits non-zero), and is named;
 * - what checkpoint and restore use is what `preflight` checks (FLOW_PERMISSIONS), so
 *   preflight cannot pass a user that checkpoint or restore then refuses;
 * - a grant nothing uses is named too (the file says "exactly the calls the CLI
 *   makes"), unless listed in UNEXERCISED with the reason.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FLOW_PERMISSIONS } from '../../src/commands/preflight-checks.js';
import type { AuthRule, RequestLogEntry } from '../../src/dev/api/index.js';
import type { DevCluster } from '../../src/dev/cluster.js';
import { MANIFESTS_DIR } from '../../src/dev/cluster.js';
import type { KubeObject } from '../../src/protocol/types.js';
import { createPlaceholder, runCli, useCluster, WORKER_MANIFEST, writeManifest, type CliRun } from './harness.js';

const USER = 'rbac-cli-user';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** rbac-cli.yaml's Role (in `ns`) and ClusterRole (everywhere) as dev-server rules, and as flat `verb group/resource` grants. */
async function manifestRules(ns: string): Promise<{ rules: AuthRule[]; grants: Set<string> }> {
  const docs = parseAllDocuments(await readFile(join(MANIFESTS_DIR, 'rbac-cli.yaml'), 'utf8')).map((d) => d.toJS() as KubeObject & { rules?: Rule[] });
  const role = docs.filter((d) => d.kind === 'Role');
  const cluster = docs.filter((d) => d.kind === 'ClusterRole');
  expect(role.map((d) => d.metadata?.name)).toEqual(['snapshotctl']);
  expect(cluster).toHaveLength(1);
  const rules: AuthRule[] = [
    ...role.flatMap((d) => d.rules ?? []).map((r) => ({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs, namespaces: [ns] })),
    ...cluster.flatMap((d) => d.rules ?? []).map((r) => ({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs })),
  ];
  const grants = new Set<string>();
  for (const r of rules) for (const g of r.apiGroups ?? ['']) for (const res of r.resources) for (const v of r.verbs) grants.add(grant(v, g, res));
  return { rules, grants };
}

const grant = (verb: string, group: string, resource: string): string => `${verb} ${group === '' ? '' : `${group}/`}${resource}`;

/** The API group of a request from its path (`/api/v1/...` is core, `/apis/<group>/...`). */
function groupOf(e: RequestLogEntry): string {
  const m = /^\/apis\/([^/]+)\//.exec(e.path);
  return m ? m[1]! : '';
}

/** The `verb group/resource[/subresource]` of each resource request the CLI user made. */
function used(c: DevCluster): { all: Set<string>; denied: string[] } {
  // (denied: every 403 but those of DENIED_BY_DESIGN)
  const entries = c.api.requestLog.entries({ user: USER }).filter((e) => e.verb !== '' && e.resource !== undefined);
  const name = (e: RequestLogEntry): string => grant(e.verb, groupOf(e), e.subresource ? `${e.resource}/${e.subresource}` : e.resource!);
  return { all: new Set(entries.map(name)), denied: entries.filter((e) => e.status === 403 && !DENIED_BY_DESIGN.has(name(e))).map((e) => `${name(e)} ${e.path}`) };
}

/**
 * Grants the CLI needs that no command below exercises, each with the code that
 * makes the call. Each must stay granted (removing one fails the test, as a missing
 * exercised grant does through a 403); a grant that becomes used needs no edit here;
 * a new grant that is neither used nor listed here fails the test.
 */
const UNEXERCISED: Record<string, string> = {
  'get batch/jobs': 'checkpoint: an existing Job of the same name (a re-run), and the poll fallback when watch is refused (kube/wait.ts)',
  'get pods/log': "list/describe/delete/prune on a real cluster read the volume through a reader pod's log (storage-scan.ts); the dev cluster reads its volume directly",
  'get nvidia.com/dynamocheckpoints': 'checkpoint --identity: a DynamoCheckpoint name taken by another identity (dynamo-checkpoint.ts)',
};

/**
 * Calls the shipped file refuses on purpose, and why: the command degrades as intended.
 * `list namespaces` is cluster-wide; completing `-n` offers nothing without it.
 */
const DENIED_BY_DESIGN = new Set(['list namespaces']);

const IDENTITY = ['--model', 'Qwen/Qwen3-0.6B', '--backend-framework', 'vllm', '--dtype', 'bfloat16', '--max-model-len', '2048'];

describe('manifests/rbac-cli.yaml is exactly what the CLI uses', () => {
  const cluster = useCluster();

  it('every command of the lifecycle passes with only its rules; each call is granted, each grant used; checkpoint and restore need only what preflight checks', async () => {
    const c = cluster();
    const { rules, grants } = await manifestRules(c.namespace);
    const kubeconfig = join(c.dir, 'kubeconfig-rbac');
    await c.api.writeKubeconfig(kubeconfig, { token: c.api.addToken(USER, rules), namespace: c.namespace });
    const run = async (args: string[]): Promise<CliRun> => {
      // Completion reads the kubeconfig from the environment, as a shell runs it.
      const r = await runCli(args, args[0] === '__complete' ? { kubeconfig: false, env: { KUBECONFIG: kubeconfig } } : { kubeconfig, timeoutMs: 60_000 });
      expect(r.code, `snapshotctl ${args.join(' ')}\n${r.stderr}`).toBe(0);
      // A denied call the command survives (e.g. placement left to the scheduler) is still a missing grant.
      expect(r.stderr, `snapshotctl ${args.join(' ')}`).not.toMatch(/forbidden|not allowed/i);
      return r;
    };
    const byStep: Array<{ step: string; calls: Set<string> }> = [];
    const step = async (name: string, args: string[]): Promise<void> => {
      const before = used(c).all;
      await run(args);
      byStep.push({ step: name, calls: new Set([...used(c).all].filter((x) => !before.has(x))) });
    };
    const flow = new Set<string>();
    const record = async (args: string[]): Promise<void> => {
      c.api.requestLog.clear();
      await run(args);
      for (const x of used(c).all) flow.add(x);
    };
    const all = new Set<string>();
    const denied: string[] = [];
    const collect = (): void => {
      const u = used(c);
      for (const x of u.all) all.add(x);
      denied.push(...u.denied);
    };

    // checkpoint and restore (both kinds): what preflight must cover.
    await record(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'rb-1', '--timeout', '30s']);
    collect();
    const restoreManifest = await writeManifest(c, 'r1.yaml', (p) => {
      p.metadata = { ...p.metadata, name: 'r1' };
      for (const ctr of (p['spec'] as { containers?: Array<Record<string, unknown>> }).containers ?? []) delete ctr['resources'];
    });
    await record(['restore', '--manifest', restoreManifest, '--checkpoint-id', 'rb-1', '--timeout', '30s']);
    collect();
    const placeholder = await createPlaceholder(c, (p) => (p.metadata = { ...p.metadata, name: 'rb-placeholder' }));
    await record(['restore', '--pod', placeholder.metadata.name!, '--checkpoint-id', 'rb-1', '--timeout', '30s']);
    collect();

    // The rest of the lifecycle.
    c.api.requestLog.clear();
    await step('preflight', ['preflight', '--manifest', WORKER_MANIFEST, '--timeout', '30s']);
    await step('list', ['list', '-o', 'json']);
    await step('describe', ['describe', 'rb-1', '-o', 'json']);
    await step('delete', ['delete', 'rb-1', '-y', '--force']);
    await step('prune', ['prune', '--older-than', '0', '-y']);
    await step('checkpoint --identity', ['checkpoint', ...IDENTITY, '--manifest', await writeManifest(c, 'w-dyn.yaml', () => {}), '--timeout', '30s']);
    const dyn = JSON.parse((await run(['list', '-o', 'json'])).stdout) as { items: Array<{ id: string }> };
    expect(dyn.items).toHaveLength(1);
    await step('delete (DynamoCheckpoint)', ['delete', dyn.items[0]!.id, '-y', '--force']);
    await step('complete --pod', ['__complete', '--', 'restore', '--pod', '']);
    await step('complete -n', ['__complete', '--', 'list', '-n', '']);
    collect();
    // The one refusal allowed happened where expected, so DENIED_BY_DESIGN is not stale.
    expect(c.api.requestLog.entries({ user: USER, status: 403 }).map((e) => `${e.verb} ${e.resource}`)).toEqual(['list namespaces']);

    expect(denied, 'calls the API server refused to rbac-cli.yaml\'s rules').toEqual([]);
    expect([...all].filter((x) => !grants.has(x) && !DENIED_BY_DESIGN.has(x)).sort(), 'calls rbac-cli.yaml does not grant').toEqual([]);

    // Preflight checks FLOW_PERMISSIONS; checkpoint and restore must need nothing else.
    const checked = new Set(FLOW_PERMISSIONS.flatMap((p) => p.verbs.map((v) => grant(v, p.group, p.resource))));
    expect([...flow].filter((x) => !checked.has(x)).sort(), 'calls of checkpoint/restore that preflight does not check (FLOW_PERMISSIONS)').toEqual([]);
    expect([...checked].filter((x) => !grants.has(x)).sort(), 'FLOW_PERMISSIONS not granted by rbac-cli.yaml').toEqual([]);

    // Needed although the flow above does not reach them: still granted.
    expect(Object.keys(UNEXERCISED).filter((x) => !grants.has(x)).sort(), 'calls the CLI makes (UNEXERCISED) that rbac-cli.yaml does not grant').toEqual([]);
    // "Exactly the calls the CLI makes, nothing more."
    const unused = [...grants].filter((x) => !all.has(x) && !(x in UNEXERCISED)).sort();
    expect(unused, `grants no command used (per step: ${JSON.stringify(byStep.map((s) => [s.step, [...s.calls]]))})`).toEqual([]);
  }, 240_000);
});

/**
 * `snapshotctl demo`: the whole flow on the embedded dev cluster, in one command.
 * Starts the cluster, applies `manifests/`, checkpoints the sample worker, restores it
 * from the manifest and in place into the sample placeholder, prints each step with its
 * time and the engine that did the work, cleans up, and exits 0 only if every step did.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EXIT } from '../errors.js';
import type { KubeObject } from '../protocol/index.js';
import type { CliIO } from './main.js';

export interface DemoOptions {
  nodes: number;
  engine?: string;
  verbose: boolean;
}

interface Step {
  title: string;
  args: string[];
}

/** Run the demo; resolves to the exit code. */
export async function runDemo(opts: DemoOptions, io: CliIO, runCli: (argv: string[], io: CliIO) => Promise<number>): Promise<number> {
  const { startDevCluster, describeEngine, MANIFESTS_DIR } = await import('../dev/cluster.js');
  const { isEngineName } = await import('../dev/agent/engines.js');
  if (opts.engine !== undefined && !isEngineName(opts.engine)) {
    io.stderr(`error: unknown engine "${opts.engine}"\nhint: use sim, criu or cuda, or leave --engine out to pick the best one that works here\n`);
    return EXIT.usage;
  }
  const t0 = Date.now();
  const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  const say = (line: string) => io.stdout(`${line}\n`);
  say('snapshotctl demo: checkpoint and restore on the embedded dev cluster (no Kubernetes, no GPU needed)');
  const cluster = await startDevCluster({
    nodes: opts.nodes,
    ...(opts.engine !== undefined ? { engine: opts.engine as 'sim' } : {}),
    log: (line, level) => {
      if (opts.verbose || level === 'warn' || level === 'error') io.stderr(`  ${line}\n`);
    },
  });
  let code: number = EXIT.ok;
  try {
    say(`[${secs()}] dev cluster up at ${cluster.url}: ${opts.nodes} nodes, applied manifests/ (${cluster.applied.length} objects)`);
    say(`[${secs()}] snapshot agents Ready on ${[...cluster.agents.keys()].join(', ')}; ${describeEngine(cluster.engine)}`);
    const ns = cluster.namespace;
    const worker = join(MANIFESTS_DIR, 'samples', 'worker.yaml');
    const placeholderFile = join(MANIFESTS_DIR, 'samples', 'placeholder.yaml');
    const placeholder = parse(await readFile(placeholderFile, 'utf8')) as KubeObject;
    const id = `demo-${Date.now()}`;
    const common = ['--kubeconfig', cluster.kubeconfigPath, '-n', ns, '--timeout', '60s', '--no-color'];
    const steps: Step[] = [
      { title: 'checkpoint the sample worker', args: ['checkpoint', '--manifest', worker, '--checkpoint-id', id, ...common] },
      { title: 'restore it into a new pod from the manifest', args: ['restore', '--manifest', worker, '--checkpoint-id', id, ...common] },
      {
        title: `restore it in place into placeholder pod ${placeholder.metadata?.name ?? ''}`,
        args: ['restore', '--pod', placeholder.metadata?.name ?? '', '--checkpoint-id', id, ...common],
      },
    ];
    for (const [i, step] of steps.entries()) {
      if (i === 2) {
        // The placeholder a user would `kubectl apply` before restoring in place.
        const { createKubeClient } = await import('../kube/client.js');
        const { RESOURCES } = await import('../kube/types.js');
        const client = await createKubeClient({ kubeconfig: cluster.kubeconfigPath });
        await client.create(RESOURCES.pods, ns, placeholder);
        say(`[${secs()}] created placeholder pod ${placeholder.metadata?.name ?? ''} from manifests/samples/placeholder.yaml`);
      }
      const started = Date.now();
      say(`[${secs()}] step ${i + 1}/${steps.length}: ${step.title}`);
      say(`         $ snapshotctl ${step.args.map((a) => (a === cluster.kubeconfigPath ? '$KUBECONFIG' : a.startsWith(MANIFESTS_DIR) ? a.replace(MANIFESTS_DIR, 'manifests') : a)).join(' ')}`);
      let out = '';
      let err = '';
      const stepCode = await runCli([...step.args, ...(opts.verbose ? [] : ['--quiet'])], {
        ...io,
        stdout: (t) => (out += t),
        stderr: (t) => (err += t),
        isTTY: false,
      });
      for (const line of out.trimEnd().split('\n')) say(`           ${line}`);
      if (err.trim()) for (const line of err.trimEnd().split('\n')) io.stderr(`           ${line}\n`);
      const took = ((Date.now() - started) / 1000).toFixed(2);
      say(`         ${stepCode === 0 ? 'ok' : `FAILED (exit ${stepCode})`} in ${took}s, ${cluster.engine.name} engine${cluster.engine.simulated ? ' (simulated)' : ''}`);
      if (stepCode !== 0) {
        code = stepCode;
        break;
      }
    }
  } finally {
    await cluster.close();
    say(`[${secs()}] dev cluster stopped and its files removed`);
  }
  say(code === 0 ? `demo finished in ${secs()}: checkpoint, restore from manifest and restore in place all completed` : `demo failed after ${secs()}`);
  return code;
}

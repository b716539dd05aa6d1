/**
 * `snapshotctl dev up|serve|status|down`: each verb's complete/validate/run
 * (src/commands/dev.ts), then its result as output and an exit code; and the process
 * they act on (spawning the background server, signals, the clock).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../errors.js';
import * as dev from '../commands/dev.js';
import type { DevDeps } from '../commands/dev.js';
import type { CliIO } from './main.js';

const ENTRY = fileURLToPath(new URL('../../bin/snapshotctl.js', import.meta.url));

/** The real process behind the dev verbs. */
export function processDevDeps(): DevDeps {
  return {
    now: Date.now,
    startServer: (args, logPath) => {
      const log = openSync(logPath, 'a');
      const child = spawn(process.execPath, [ENTRY, ...args], { detached: true, stdio: ['ignore', log, log], env: { ...process.env } });
      closeSync(log);
      child.unref();
      return { pid: child.pid!, onExit: (listener) => void child.once('exit', listener) };
    },
    kill: (pid, signal) => void process.kill(pid, signal),
    log: (line, level) => void process.stderr.write(`${new Date().toISOString()} ${level} ${line}\n`),
    tmpdir: tmpdir(),
    kube: async (opts) => (await import('../kube/client.js')).createKubeClient(opts),
  };
}

type DevVerb = (raw: Record<string, unknown>, io: CliIO, deps?: DevDeps) => Promise<number>;

/** `dev up`: start the background cluster (or find it running); its kubeconfig on stdout. */
export const runDevUp: DevVerb = async (raw, io, deps = processDevDeps()) => {
  const opts = dev.up.complete(raw, io.env);
  dev.up.validate(opts);
  const { state, already, stale } = await dev.up.run(opts, deps);
  if (stale !== undefined) io.stderr(`removed the stale state of a dev cluster whose process ${stale} is gone (or is now another program)\n`);
  io.stderr(`${already ? 'dev cluster already running' : 'dev cluster started'} at ${state.url} (pid ${state.pid}, ${state.nodes} nodes, ${state.gpuNodes} with an agent)\n`);
  io.stderr(`${state.engineLine}\n`);
  io.stdout(`kubeconfig=${state.kubeconfig}\n`);
  io.stdout(`export KUBECONFIG=${state.kubeconfig}\n`);
  return EXIT.ok;
};

/** The hidden `dev serve`: the cluster in the foreground until a signal (what `dev up` starts). */
export const runDevServe: DevVerb = async (raw, io, deps = processDevDeps()) => {
  const opts = dev.serve.complete(raw, io.env);
  dev.serve.validate(opts);
  await dev.serve.run(opts, { log: deps.log, now: deps.now, signal: io.signal });
  return EXIT.ok;
};

/** `dev status`: kv or JSON on stdout; exit 1 when something was left behind. */
export const runDevStatus: DevVerb = async (raw, io, deps = processDevDeps()) => {
  const say = (line: string) => io.stdout(`${line}\n`);
  const opts = dev.status.complete(raw, io.env);
  dev.status.validate(opts);
  const status = await dev.status.run(opts, deps);
  if (opts.output === 'json') say(JSON.stringify(status, null, 2));
  else {
    say(`status=${status.status}`);
    if (status.state) {
      say(`url=${status.state.url}`);
      say(`pid=${status.state.pid}`);
      say(`kubeconfig=${status.state.kubeconfig}`);
      say(`engine=${status.state.engine}${status.state.engineSimulated ? ' (simulated)' : ''}`);
      say(`reachable=${status.reachable}`);
    }
    say(`leftovers=${status.leftovers.length}`);
    for (const l of status.leftovers) io.stderr(`left behind: ${l}\n`);
  }
  return status.leftovers.length > 0 ? EXIT.failed : EXIT.ok;
};

/** `dev down`: stop the cluster and remove its state directory. */
export const runDevDown: DevVerb = async (raw, io, deps = processDevDeps()) => {
  const opts = dev.down.complete(raw, io.env);
  dev.down.validate(opts);
  const { stateDir, stopped, stale, removed } = await dev.down.run(opts, deps);
  if (stopped !== undefined) io.stderr(`stopped the dev cluster (pid ${stopped})\n`);
  else if (stale !== undefined) io.stderr(`no dev cluster was running (the recorded process ${stale} is gone or is now another program; it was not signalled)\n`);
  else io.stderr('no dev cluster was running\n');
  if (removed) io.stderr(`removed ${stateDir}\n`);
  io.stdout('status=stopped\n');
  return EXIT.ok;
};

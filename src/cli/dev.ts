/**
 * Printing for `snapshotctl dev up|serve|status|down`, and the process they act on
 * (spawning the background server, signals, the clock); the work is in
 * src/commands/dev.ts.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../errors.js';
import { devDown, devServe, devStatus, devUp, parseDevUpOptions, stateDirOf, type DevDeps } from '../commands/dev.js';
import type { CliIO } from './main.js';

const ENTRY = fileURLToPath(new URL('../../bin/snapshotctl.js', import.meta.url));

/** The real process behind the dev verbs. */
export function processDevDeps(): DevDeps {
  return {
    now: Date.now,
    startServer: (args, logPath) => {
      const log = openSync(logPath, 'a');
      const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env: { ...process.env } });
      closeSync(log);
      child.unref();
      return { pid: child.pid!, onExit: (listener) => void child.once('exit', listener) };
    },
    kill: (pid, signal) => void process.kill(pid, signal),
    log: (line, level) => void process.stderr.write(`${new Date().toISOString()} ${level} ${line}\n`),
    tmpdir: tmpdir(),
  };
}

export async function runDev(name: string, raw: Record<string, unknown>, io: CliIO, deps: DevDeps = processDevDeps()): Promise<number> {
  const stateDir = stateDirOf(raw, io.env);
  const say = (line: string) => io.stdout(`${line}\n`);
  switch (name) {
    case 'dev up': {
      const { state, already, stale } = await devUp(parseDevUpOptions(raw, io.env), ENTRY, deps);
      if (stale !== undefined) io.stderr(`removed the stale state of a dev cluster whose process ${stale} is gone (or is now another program)\n`);
      io.stderr(`${already ? 'dev cluster already running' : 'dev cluster started'} at ${state.url} (pid ${state.pid}, ${state.nodes} nodes, ${state.gpuNodes} with an agent)\n`);
      io.stderr(`${state.engineLine}\n`);
      say(`kubeconfig=${state.kubeconfig}`);
      say(`export KUBECONFIG=${state.kubeconfig}`);
      return EXIT.ok;
    }
    case 'dev serve':
      await devServe(parseDevUpOptions(raw, io.env), io.signal, deps);
      return EXIT.ok;
    case 'dev status': {
      const status = await devStatus(stateDir, deps);
      if (raw['output'] === 'json') say(JSON.stringify(status, null, 2));
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
    }
    case 'dev down': {
      const { stopped, stale, removed } = await devDown(stateDir, deps);
      if (stopped !== undefined) io.stderr(`stopped the dev cluster (pid ${stopped})\n`);
      else if (stale !== undefined) io.stderr(`no dev cluster was running (the recorded process ${stale} is gone or is now another program; it was not signalled)\n`);
      else io.stderr('no dev cluster was running\n');
      if (removed) io.stderr(`removed ${stateDir}\n`);
      say(`status=stopped`);
      return EXIT.ok;
    }
    default:
      return EXIT.usage;
  }
}

/** Printing for `snapshotctl dev up|serve|status|down`; the work is in src/commands/dev.ts. */
import { fileURLToPath } from 'node:url';
import { EXIT } from '../errors.js';
import { devDown, devServe, devStatus, devUp, parseDevUpOptions, stateDirOf } from '../commands/dev.js';
import type { CliIO } from './main.js';

const ENTRY = fileURLToPath(new URL('../../bin/snapshotctl.js', import.meta.url));

export async function runDev(name: string, raw: Record<string, unknown>, io: CliIO): Promise<number> {
  const stateDir = stateDirOf(raw, io.env);
  const say = (line: string) => io.stdout(`${line}\n`);
  switch (name) {
    case 'dev up': {
      const { state, already, stale } = await devUp(parseDevUpOptions(raw, io.env), ENTRY);
      if (stale !== undefined) io.stderr(`removed the stale state of a dev cluster whose process ${stale} is gone (or is now another program)\n`);
      io.stderr(`${already ? 'dev cluster already running' : 'dev cluster started'} at ${state.url} (pid ${state.pid}, ${state.nodes} nodes, ${state.gpuNodes} with an agent)\n`);
      io.stderr(`${state.engineLine}\n`);
      say(`kubeconfig=${state.kubeconfig}`);
      say(`export KUBECONFIG=${state.kubeconfig}`);
      return EXIT.ok;
    }
    case 'dev serve':
      await devServe(parseDevUpOptions(raw, io.env), io.signal);
      return EXIT.ok;
    case 'dev status': {
      const status = await devStatus(stateDir);
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
      const { stopped, stale, removed } = await devDown(stateDir);
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

#!/usr/bin/env node
// Entry point for both `snapshotctl` and the kubectl plugin `kubectl-snapshot`.
import { main } from '../dist/cli/main.js';

// A reader that went away (`| head`) ends our output, not the command: what it was doing
// (a demo's cleanup, say) still runs to the end.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
const code = await main(process.argv.slice(2));
// Exit as soon as the result is out: an aborted watch's socket or a cleared deadline
// must not hold the process (CI scripts wait on our exit). Output still in a stream's
// buffer (a slow pipe) is written first; with none (the usual case), at once.
const pending = [process.stdout, process.stderr].filter((s) => s.writableNeedDrain);
if (pending.length > 0) await Promise.all(pending.map((s) => new Promise((resolve) => s.once('drain', resolve).once('error', resolve))));
process.exit(code);

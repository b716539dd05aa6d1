#!/usr/bin/env node
// Entry point of `snapshot-agent`: the same program as `snapshotctl agent`, for the
// agent DaemonSet's container (flags as for `snapshotctl agent --help`).
import { main } from '../dist/cli/main.js';

// A reader that went away (`| head`) ends our output, not the command: what it was doing
// (a demo's cleanup, say) still runs to the end.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
const code = await main(['agent', ...process.argv.slice(2)]);
// As bin/snapshotctl.js: out once the output is written (a closed pipe, `| head`, too).
const drained = (s) => new Promise((resolve) => (s.writableNeedDrain ? s.once('drain', resolve).once('error', resolve) : resolve()));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);

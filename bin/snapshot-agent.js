#!/usr/bin/env node
// Entry point of `snapshot-agent`: the same program as `snapshotctl agent`, for the
// agent DaemonSet's container (flags as for `snapshotctl agent --help`).
import { main } from '../dist/cli/main.js';

const code = await main(['agent', ...process.argv.slice(2)]);
// As bin/snapshotctl.js: out once the output is written (a closed pipe, `| head`, too).
const drained = (s) => new Promise((resolve) => (s.writableNeedDrain ? s.once('drain', resolve).once('error', resolve) : resolve()));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);

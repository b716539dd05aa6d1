#!/usr/bin/env node
// Entry point of `snapshot-agent`: the same program as `snapshotctl agent`, for the
// agent DaemonSet's container (flags as for `snapshotctl agent --help`).
import { main } from '../dist/cli/main.js';

main(['agent', ...process.argv.slice(2)]).then((code) => {
  process.exitCode = code;
});

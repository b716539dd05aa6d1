#!/usr/bin/env node
// Entry point for both `snapshotctl` and the kubectl plugin `kubectl-snapshot`.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

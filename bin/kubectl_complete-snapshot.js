#!/usr/bin/env node
// kubectl's plugin completion: `kubectl snapshot <TAB>` runs `kubectl_complete-snapshot`
// from PATH with the words after `snapshot` (the last one being completed) and reads
// cobra's format: candidates one per line, then a `:<directive>` line.
import { main } from '../dist/cli/main.js';

const code = await main(['__complete', '--cobra', '--', ...process.argv.slice(2)]);
const drained = (s) => new Promise((resolve) => (s.writableNeedDrain ? s.once('drain', resolve).once('error', resolve) : resolve()));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);

#!/usr/bin/env node
// .ci/run's closing line: the plain total of the vitest JSON reports named as arguments,
// `N passed, N failed, N skipped`. A report that says it failed without a failed test
// (a suite that crashed) counts as 1 failed. A lane skipped on purpose leaves the report's
// path plus `.skipped` (scripts/test.mjs), holding the reason: it is printed and counts
// as 1 skipped. A lane with neither file should have run and did not finish: 1 failed.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const f of process.argv.slice(2)) {
  if (existsSync(`${f}.skipped`)) {
    const reason = readFileSync(`${f}.skipped`, 'utf8').trim() || 'no reason given';
    console.log(`${basename(f)}: lane skipped: ${reason} (counted as 1 skipped)`);
    skipped += 1;
    continue;
  }
  let r;
  try {
    r = JSON.parse(readFileSync(f, 'utf8'));
  } catch (err) {
    const what = err.code === 'ENOENT' ? 'no report' : `an unreadable report (${err.code ?? 'not JSON'})`;
    console.log(`${basename(f)}: ${what}: the lane did not finish (counted as 1 failed)`);
    failed += 1;
    continue;
  }
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if (!r.success && !r.numFailedTests) {
    console.log(`${basename(f)}: the run failed outside any test (counted as 1 failed)`);
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);

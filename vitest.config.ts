import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The real-cluster lane has its own config (vitest.real.config.ts, scripts/test-real.sh).
    exclude: ['test/real/**', '**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Builds dist/ when stale (test/e2e spawns bin/snapshotctl.js), then the one machine
    // set-up step: CRIU and kubectl prepared once, the result handed to the test files.
    globalSetup: ['test/e2e/setup.ts', 'src/testing/machine.ts'],
  },
});

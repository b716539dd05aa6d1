import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The real-cluster lane has its own config (vitest.real.config.ts, scripts/test-real.sh).
    exclude: ['test/real/**', '**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Builds dist/ when stale: test/e2e spawns bin/snapshotctl.js.
    globalSetup: ['test/e2e/setup.ts'],
  },
});

import { defineConfig } from 'vitest/config';

// The real-cluster lane (scripts/test-real.sh): a real Kubernetes started by
// scripts/real-cluster.sh. One cluster, so test files run one at a time.
export default defineConfig({
  test: {
    include: ['test/real/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    globalSetup: ['test/e2e/setup.ts'],
  },
});

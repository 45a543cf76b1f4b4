import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native ops use kquant's own thread pool; forks keep each file's process state (SIMD level) apart.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});

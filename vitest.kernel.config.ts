import { defineConfig } from 'vitest/config';

// The real-kernel comparison (test/kernel): boots a Debian 12 VM under qemu, minutes per run,
// so it is its own suite (`npm run test:kernel`), never part of `npm test`.
export default defineConfig({
  test: {
    include: ['test/kernel/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: false,
  },
});

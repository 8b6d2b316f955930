import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/kernel boots a real kernel under qemu: its own suite, `npm run test:kernel`.
    exclude: [...configDefaults.exclude, 'test/kernel/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

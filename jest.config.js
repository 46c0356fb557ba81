/** Jest 30 in native ESM mode; @swc/jest strips types (tsc --noEmit type-checks separately). */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: 'inline',
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 60000,
  // Most suites wait on a simulator and a daemon child process, not on a core: two at a time
  // halve the run on a 2-core machine (jest's default is one worker there).
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/global-setup.js',
};

// Projects: unit (no network), infra (CDK assertions), local (local components on loopback), contract (the PSP
// simulator against the stripe SDK's declarations), integration (the local stack over HTTP).
const transform = {
  '^.+\\.(t|j)sx?$': [
    '@swc/jest',
    { jsc: { target: 'es2023', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
  ],
};
// middy 7 is ESM-only: let swc turn it into CommonJS for jest.
const transformIgnorePatterns = ['node_modules/(?!(@middy)/)'];
// ...and resolve its packages, which only export an `import` condition, to their entry files.
const moduleNameMapper = { '^@middy/(core|util)$': '<rootDir>/node_modules/@middy/$1/index.js' };
const common = { transform, transformIgnorePatterns, moduleNameMapper, testEnvironment: 'node' };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    // Local components (PSP simulator, local Step Functions endpoint...) on loopback, each test starting its own.
    { ...common, displayName: 'local', testMatch: ['<rootDir>/test/local/**/*.test.ts'] },
    // The PSP simulator's responses against JSON Schemas generated from the installed stripe SDK's declarations.
    { ...common, displayName: 'contract', testMatch: ['<rootDir>/test/contract/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
    },
  ],
};

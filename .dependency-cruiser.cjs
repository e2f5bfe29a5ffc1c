/**
 * Layer rules (docs/decisions.md, 2026-11-29 "Layer rules, enforced by dependency-cruiser"). `npm run lint`, and so
 * CI, runs them: `depcruise src lambdas local scripts lib bin bench --config .dependency-cruiser.cjs`.
 *
 * The layers, from the bottom up:
 *   src/core                       config, AWS clients, errors, money, observability, shared table code
 *   src/ledger, src/psp            siblings: the ledger, the PSP (Stripe) adapter; each on core only
 *   flows: every other src/ folder src/payin today; src/payout, src/refunds, src/reconciliation to come
 *   src/api                        the HTTP edge: may use everything below it
 *   lambdas/                       handler entry points and the catalog
 *   lib/, bin/, local/, scripts/   the CDK app, the local stack, operator scripts
 * and test/ on top. Every rule's `comment` says why it exists.
 *
 * Paths are relative to the directory depcruise runs in: the repository root (npm run lint), or
 * test/fixtures/layers, a small tree of the same shape with one deliberate violation per file, which
 * test/unit/layer-rules.test.ts cruises with this very file to prove the rules bite.
 */
const path = require('node:path');

/** The src/ folders that are not flows. Any other folder under src/ is a flow (payin, payout, refunds...). */
const NOT_A_FLOW = '(?!(?:core|ledger|psp|api)/)';
/** A flow module; the first group is the flow's folder name. */
const FLOW = `^src/${NOT_A_FLOW}([^/]+)/`;

/** An npm package by name, resolved (…/node_modules/<name>/…) or not (the bare specifier). */
const pkg = (...names) => {
  const alternatives = names.join('|');
  return `(^|/)node_modules/(${alternatives})(/|$)|^(${alternatives})(/|$)`;
};
/** Packages that do I/O or tie code to the Lambda runtime: the AWS SDK, Stripe, Powertools, middy, Lambda types. */
const INFRASTRUCTURE_PACKAGES = pkg(
  '@aws-sdk/[^/]+',
  'stripe',
  '@aws-lambda-powertools/[^/]+',
  '@middy/[^/]+',
  '@types/aws-lambda',
  'aws-lambda',
);

/**
 * Domain modules: pure types and rules, no I/O. Today's pure modules by name, and from now on anything under a
 * `domain/` folder of a capability (src/<capability>/domain/**).
 */
const DOMAIN_MODULES = [
  '^src/core/money\\.ts$',
  '^src/ledger/postings\\.ts$',
  '^src/payin/payment\\.ts$',
  '^src/payin/risk\\.ts$',
  '^src/payin/errors\\.ts$',
  '^src/payout/payout\\.ts$',
  '^src/payout/seller\\.ts$',
  '^src/payout/errors\\.ts$',
  '^src/[^/]+/domain/',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ---- src/: folders depend downward only -------------------------------------------------------------------
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment:
        'src/core is the bottom layer that every capability shares: it imports nothing else from src/. Something in ' +
        'core that needs the ledger, the PSP, a flow or the edge does not belong in core.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'ledger-imports-only-core',
      severity: 'error',
      comment:
        'src/ledger (posting rules, ledger table, wallets) builds on core only. It must not know the PSP (its ' +
        'sibling: ledger and psp never import each other), a flow or the edge; flows combine them.',
      from: { path: '^src/ledger/' },
      to: { path: '^src/', pathNot: '^src/(core|ledger)/' },
    },
    {
      name: 'psp-imports-only-core',
      severity: 'error',
      comment:
        'src/psp (the Stripe adapter) builds on core only. It must not know the ledger (its sibling: ledger and psp ' +
        'never import each other), a flow or the edge; flows combine them.',
      from: { path: '^src/psp/' },
      to: { path: '^src/', pathNot: '^src/(core|psp)/' },
    },
    {
      name: 'flow-not-to-api',
      severity: 'error',
      comment:
        'A flow (src/payin, and later src/payout, src/refunds, src/reconciliation) is called by the edge, never the ' +
        'other way round: HTTP requests, responses and status codes stay in src/api; flows throw domain errors.',
      from: { path: FLOW },
      to: { path: '^src/api/' },
    },
    {
      name: 'flow-not-to-other-flow',
      severity: 'error',
      comment:
        'Flows are independent: no flow imports another one (a payout never reaches into payin). What two flows ' +
        'share moves down to core, ledger or psp. Flows may import core, ledger and psp.',
      from: { path: FLOW },
      to: { path: FLOW, pathNot: '^src/$1/' },
    },
    {
      name: 'src-not-to-entry-points-or-tooling',
      severity: 'error',
      comment:
        'src/ is the application, bundled into the Lambda functions: it never imports the handlers (lambdas/), the ' +
        'local stack (local/), operator scripts (scripts/) or the CDK app (lib/, bin/). They import src/, not back.',
      from: { path: '^src/' },
      to: { path: '^(lambdas|local|scripts|bench|lib|bin)/' },
    },
    // ---- above src/ ------------------------------------------------------------------------------------------
    {
      name: 'lambdas-not-to-tooling',
      severity: 'error',
      comment:
        'lambdas/ holds the handlers that are bundled and deployed: they must not pull in the local stack, operator ' +
        'scripts or the CDK app (lib/ and bin/ import lambdas/catalog.ts, not the reverse).',
      from: { path: '^lambdas/' },
      to: { path: '^(local|scripts|bench|lib|bin)/' },
    },
    {
      name: 'infra-not-to-local-or-scripts',
      severity: 'error',
      comment:
        'The CDK app (lib/, bin/) describes what is deployed; it never depends on the local stack or operator scripts, ' +
        'which are development and operations tools.',
      from: { path: '^(lib|bin)/' },
      to: { path: '^(local|scripts|bench)/' },
    },
    {
      name: 'production-not-to-test',
      severity: 'error',
      comment:
        'Production code (src, lambdas, local, scripts, lib, bin) never imports test/: fakes and test helpers would be ' +
        'bundled and deployed, and tests could no longer be changed freely.',
      from: { path: '^(src|lambdas|local|scripts|lib|bin)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles: a cycle makes load order matter (CommonJS hands out half-initialised modules), hides a ' +
        'missing layer, and ties modules so that neither can change or be tested alone.',
      from: { path: '^(src|lambdas|local|scripts|lib|bin)/' },
      to: { circular: true },
    },
    // ---- packages -------------------------------------------------------------------------------------------
    {
      name: 'domain-stays-pure',
      severity: 'error',
      comment:
        'Domain modules (money, posting rules, the payment aggregate and its transitions, risk rules, domain errors, ' +
        'and any src/<capability>/domain/**) are pure: they must not reach the AWS SDK, Stripe, Powertools, middy or ' +
        'the Lambda types through any chain of imports, so they stay unit-testable without mocks and portable.',
      from: { path: DOMAIN_MODULES },
      to: { path: INFRASTRUCTURE_PACKAGES, reachable: true },
    },
    {
      name: 'stripe-only-in-psp',
      severity: 'error',
      comment:
        'The stripe package is imported only by the PSP adapter (src/psp) and the local PSP simulator ' +
        '(local/psp-simulator); everything else speaks the PSP port (src/psp/types), so the PSP can be faked in ' +
        'tests and replaced without touching the flows.',
      from: { pathNot: '^(src/psp/|local/psp-simulator/|test/)' },
      to: { path: pkg('stripe') },
    },
    {
      name: 'cdk-only-in-infra',
      severity: 'error',
      comment:
        'aws-cdk-lib, constructs and cdk-nag describe the deployment and belong to lib/ and bin/ only: in src/ or ' +
        'lambdas/ they would be bundled into every function; the local stack reads lambdas/catalog.ts instead.',
      from: { path: '^(src|lambdas|local|scripts)/' },
      to: { path: pkg('aws-cdk-lib', 'constructs', 'cdk-nag', 'aws-cdk') },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports couple modules too: a layer must not even name another layer's types.
    tsPreCompilationDeps: true,
    // Absolute, so that the fixture tree (cruised from test/fixtures/layers) resolves like the repository.
    tsConfig: { fileName: path.join(__dirname, 'tsconfig.json') },
    // middy ships only an `import` export condition: list it, so its packages resolve too.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

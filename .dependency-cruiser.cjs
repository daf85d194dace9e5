/**
 * The layer rules of DESIGN.md section 2 ("The house"), checked by `npm run lint`.
 *
 * Arrows point inward: app/ wires everything; session/, pipeline/, radio/ and origin/ use
 * actors/, protocol/ and storage/ and never each other; actors/ and protocol/ depend on
 * nothing of ours; client/ depends on protocol/ alone.
 *
 * Test files (`*.test.ts`, `*.contract.ts`, testkit/) may reach across services to set a
 * scene, but only app/'s own tests and testkit/ import app/ (other tests start the app
 * through testkit/); production code never reaches into test files.
 *
 * Tooling: deploy/ (the engine launcher) stands alone; loadtest/ (benchmarks, k6) may use
 * anything, app/ and testkit/ included, because it runs the system the way a user or a test
 * does and nothing ships it. Decided here, not in DESIGN.md.
 */

/** Test code: exempt from the service rules, never imported by production code. */
const TEST = '(\\.test\\.ts|\\.contract\\.ts)$|^testkit/';
/**
 * Our folders other than app/ and testkit/, whose own rules (only-app-imports-app,
 * production-never-imports-test-code) report imports of them once, under their name. Imports
 * that leave these folders are npm packages or node: builtins.
 */
const OURS =
  '^(protocol|actors|client|session|pipeline|radio|origin|storage|cluster|deploy|loadtest|player)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'Modules that import each other cannot be read, tested or loaded one at a time, and ' +
        'their load order decides which of them sees the other half-initialised.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        'An import that does not resolve fails at run time (tsx) or in the build. k6/* are ' +
        'modules of the k6 runtime, which runs the bundled loadtest/k6 script.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^k6(/|$)' },
    },
    {
      name: 'actors-import-nothing-of-ours',
      comment:
        'actors/ is the pure domain (machines, policies): its effects leave through ports passed ' +
        'in, so it must not know any adapter, service, wire format or the root.',
      severity: 'error',
      from: { path: '^actors/', pathNot: TEST },
      to: { path: OURS, pathNot: '^actors/' },
    },
    {
      name: 'protocol-imports-nothing-of-ours',
      comment:
        'protocol/ is the wire shared by server, origin, client SDK and load tests; it must ' +
        'bundle for browsers and k6 with nothing of the server behind it.',
      severity: 'error',
      from: { path: '^protocol/', pathNot: TEST },
      to: { path: OURS, pathNot: '^protocol/' },
    },
    {
      name: 'client-imports-only-protocol',
      comment:
        'client/ is the SDK, CLI and web player: it runs in browsers and on listeners machines, ' +
        'so it may know the wire (protocol/) and nothing of the server.',
      severity: 'error',
      from: { path: '^client/', pathNot: TEST },
      to: { path: OURS, pathNot: '^(client|protocol)/' },
    },
    {
      name: 'player-imports-only-client-and-protocol',
      comment:
        'player/ is the web player page, bundled for browsers: it plays through the SDK (client/) ' +
        'and speaks the wire (protocol/), and knows nothing of the server.',
      severity: 'error',
      from: { path: '^player/', pathNot: TEST },
      to: { path: OURS, pathNot: '^(player|client|protocol)/' },
    },
    {
      name: 'services-use-only-inner-layers',
      comment:
        'session/, pipeline/, radio/ and origin/ are services: each uses actors/, protocol/ and ' +
        'storage/ ports and never another service or tooling. Whatever joins two ' +
        'services is wiring, and wiring lives in app/.',
      severity: 'error',
      from: { path: '^(session|pipeline|radio|origin)/', pathNot: TEST },
      to: { path: OURS, pathNot: '^($1|actors|protocol|storage)/' },
    },
    {
      name: 'cluster-serves-the-session-layer',
      comment:
        'cluster/ (leases, relay between nodes, fencing on NATS) implements the placement ports ' +
        'session/ declares (session/placement.ts) and drives the session layer through its ' +
        'public interfaces; session/ never imports it (app/ wires the two). It knows no other ' +
        'service.',
      severity: 'error',
      from: { path: '^cluster/', pathNot: TEST },
      to: { path: OURS, pathNot: '^(cluster|session|actors|protocol|storage)/' },
    },
    {
      name: 'storage-uses-only-domain-and-wire-types',
      comment:
        'storage/ holds ports and their adapters; a port speaks in domain and wire types ' +
        '(actors/, protocol/) and knows no service. "Types only" is not checked here: the ' +
        'parser we run (swc; TypeScript 7 has no compiler API for dependency-cruiser) does not ' +
        'mark type-only imports, so a value import from actors/ or protocol/ passes this rule.',
      severity: 'error',
      from: { path: '^storage/', pathNot: TEST },
      to: { path: OURS, pathNot: '^(storage|actors|protocol)/' },
    },
    {
      name: 'only-app-imports-app',
      comment:
        'app/ is the composition root: config parse, wiring and entry points. A service that ' +
        'imports it reads config or wiring it should have been handed. Tests of app/ live in ' +
        'app/; testkit/ starts the app for tests; loadtest/ starts it to measure it.',
      severity: 'error',
      from: { pathNot: '^(app|testkit|loadtest)/' },
      to: { path: '^app/' },
    },
    {
      name: 'app-wires-services-not-tooling',
      comment:
        'app/ is what ships: it may import every service but not the engine launcher or the ' +
        'benchmarks, which are not deployed.',
      severity: 'error',
      from: { path: '^app/', pathNot: TEST },
      to: { path: '^(deploy|loadtest)/' },
    },
    {
      name: 'production-never-imports-test-code',
      comment:
        'Test helpers (fakes, engine launchers, raw sockets) and test suites must not ship or ' +
        'run in production. Test files and loadtest/ (benchmarks on real engines) may use them.',
      severity: 'error',
      from: { pathNot: `${TEST}|^loadtest/` },
      to: { path: TEST },
    },
    {
      name: 'production-uses-only-dependencies',
      comment:
        '`npm ci --omit=dev` installs no devDependencies, so code that ships must import only ' +
        '`dependencies` (msgpackr, for one, is kept for interop tests and benchmarks only).',
      severity: 'error',
      from: {
        path: '^(app|protocol|actors|client|session|pipeline|radio|origin|storage|cluster)/',
        pathNot: TEST,
      },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'deploy-stands-alone',
      comment:
        'deploy/ starts and probes the engines before any app exists (`npm run infra`, the test ' +
        'runner); testkit/ builds on it, never the other way. Its boot check of a built server ' +
        'speaks to it as any outside client would (client/ and protocol/), never through services.',
      severity: 'error',
      from: { path: '^deploy/', pathNot: TEST },
      to: { path: OURS, pathNot: '^(deploy|client|protocol)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules is not excluded: excluding it would drop the imports of packages too.
    exclude: { path: '^(dist|\\.cache|var|bench-results|loadtest/k6/dist)/' },
    moduleSystems: ['es6', 'cjs'],
    // TypeScript 7 (our tsc) has no JavaScript compiler API, which dependency-cruiser's own
    // TypeScript parser needs; swc parses TypeScript, type-only imports included.
    parser: 'swc',
    // Type-only imports are dependencies too: a port that names a service's type is coupled.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Our imports name the file with its .ts extension (allowImportingTsExtensions, run by
    // tsx), so they resolve as written. Packages resolve as Node loads them for our ES
    // modules; `types` last, for packages that only ship declarations.
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default', 'types'],
      mainFields: ['main', 'types'],
    },
  },
};

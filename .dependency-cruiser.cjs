/**
 * The shape of src/, checked by `npm run depcruise` (part of `npm test`).
 *
 * Layers, from the top:  bin → cli → features (build, patches, preview, release) → adapters → config → shared.
 * An arrow may skip layers downwards, never point up. Type-only imports count
 * (tsPreCompilationDeps), because a type cycle is a design cycle all the same.
 */
const FEATURES = '(build|patches|preview|release)';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle means two files are one module in two halves: move the shared part down.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-loose-files',
      comment: 'src/ holds folders, one per layer, plus the bin: a loose file hides which layer it belongs to.',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$' },
      to: {},
    },
    {
      name: 'shared-is-the-floor',
      comment: 'shared/ (errors, concurrency, version) is used by everything, so it may use nothing of ours.',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^src/(?!shared/)' },
    },
    {
      name: 'config-above-shared-only',
      comment: 'config/ parses the project files; it knows nothing of adapters, features or the command line.',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/(?!config/|shared/)' },
    },
    {
      name: 'adapters-below-features',
      comment: 'Adapters touch the outside world for the features; a feature type inside an adapter points up.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(?!adapters/|config/|shared/)' },
    },
    {
      name: 'features-below-cli',
      comment: 'Features are driven by the command line, never the other way: they take options, not argv.',
      severity: 'error',
      from: { path: `^src/${FEATURES}/` },
      to: { path: '^src/(cli|bin)/' },
    },
    {
      name: 'cli-below-bin',
      comment: 'Only the bin starts the command line.',
      severity: 'error',
      from: { path: '^src/(?!bin/)' },
      to: { path: '^src/bin/' },
    },
    {
      name: 'features-through-their-index',
      comment: "A feature's index.ts is its surface: the rest is its own business and may move without notice.",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: {
        path: `^src/${FEATURES}/(?!index\\.ts$)`,
        pathNot: '^src/$1/',
      },
    },
    {
      name: 'no-orphans',
      comment: 'A file nothing imports is dead code (the bin and the feature indexes are the roots).',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: ['^src/bin/bro\\.ts$', '\\.d\\.ts$'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};

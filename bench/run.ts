/** Runs every benchmark in bench/, one after the other: `npm run bench`. */
import { main as dryRun } from './dry-run.js';
import { main as lock } from './lock.js';
import { main as patchesCheck } from './patches-check.js';
import { main as promote } from './promote.js';
import { main as publish } from './publish.js';
import { main as upgrade } from './upgrade.js';

const benches: [string, () => unknown][] = [
  ['dry-run: warm rerun and --help', dryRun],
  ['publish: 4 regions x 3 accounts, parallel vs the shell loop', publish],
  ['promote: 4 regions, side by side vs one region after the other', promote],
  ['patches check: every tag since the base vs checkout + git apply', patchesCheck],
  ["workspace lock: recording each program's process group", lock],
  ['upgrade: --to v1.7.2 with no human stop vs checkout + git am per patch', upgrade],
];
for (const [name, run] of benches) {
  console.log(`\n== ${name}`);
  await run();
}

/** Runs every benchmark in bench/, one after the other. */
import { main as dryRun } from './dry-run.js';

const benches: [string, () => unknown][] = [['dry-run', dryRun]];
for (const [name, run] of benches) {
  console.log(`\n== ${name}`);
  await run();
}

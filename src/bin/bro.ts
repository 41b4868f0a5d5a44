#!/usr/bin/env node
// The thin entry point: run the CLI, set the exit code. Nothing below it exits the process.
import { main } from '../cli/main.js';

// `bro … | head` closes stdout early; that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});

#!/usr/bin/env node
// The thin entry point: run the CLI, set the exit code. Nothing below it exits the process.
import { main } from '../cli.js';

process.exitCode = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });

import type { Command } from 'commander';
import type { Io } from '../cli.js';

/** Registered by issue 5. */
export function registerPatches(_program: Command, _io: Io): void {}

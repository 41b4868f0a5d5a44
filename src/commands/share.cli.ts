import type { Command } from 'commander';
import type { Io } from '../cli.js';

/** Registered by issue 4. */
export function registerShare(_program: Command, _io: Io): void {}

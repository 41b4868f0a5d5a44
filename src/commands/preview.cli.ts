import type { Command } from 'commander';
import type { Io } from '../cli.js';

/** Registered by issue 3. */
export function registerPreview(_program: Command, _io: Io): void {}

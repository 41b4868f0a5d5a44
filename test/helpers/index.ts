/**
 * The helpers every test file uses, in one place: the sealed environment and
 * the programs on it, skips that say why, scratch directories, processes.
 */
export { FIXED_GIT_IDENTITY, findProgram, PATH, sealedEnv, SYSTEM_DIRS } from './env.js';
export { skipsBecause } from './skips.js';
export { removeDir, scratchDirs, tempDir } from './git-fixtures.js';
export { alive, lockIdentity, procMissing, until } from './processes.js';

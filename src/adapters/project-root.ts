import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../shared/errors.js';

/**
 * Finding the project: small and synchronous, as every command needs it while it parses its
 * options (and `bro --help` loads it).
 */

/** Where the project directory came from: `--project-dir`, `BRO_PROJECT_DIR`, or the working directory bro searched from. */
export interface ProjectOrigin {
  dir: string;
  from: '--project-dir' | 'BRO_PROJECT_DIR' | 'the working directory' | 'the project';
}

const isProject = (dir: string) =>
  ['variants', 'patches'].some((d) => {
    try {
      return statSync(join(dir, d)).isDirectory();
    } catch {
      return false;
    }
  });

/**
 * The project a command works on. A directory the user named must be one (a directory with
 * variants/ or patches/); without one, bro looks in the working directory and each folder above
 * it, as git and npm do.
 */
export function locateProject(origin: ProjectOrigin): string {
  if (origin.from !== 'the working directory') {
    if (!isProject(origin.dir)) throw notAProject(origin);
    return origin.dir;
  }
  for (let dir = origin.dir; ; dir = dirname(dir)) {
    if (isProject(dir)) return dir;
    if (dirname(dir) === dir) throw notAProject(origin);
  }
}

/** The one message every command gives outside a project. */
export function notAProject({ dir, from }: ProjectOrigin): UsageError {
  const message: Record<ProjectOrigin['from'], string> = {
    'the working directory': `${dir} is not in a bro project: neither it nor any folder above it has variants/ or patches/`,
    '--project-dir': `--project-dir ${dir} is not a bro project: it has no variants/ or patches/ directory`,
    BRO_PROJECT_DIR: `BRO_PROJECT_DIR=${dir} is not a bro project: it has no variants/ or patches/ directory`,
    'the project': `${dir} is not a bro project: it has no variants/ directory`,
  };
  return new UsageError(message[from], {
    hint: 'Run bro in the project (the directory with variants/ and patches/, or any folder in it), or name it with --project-dir <dir> (or BRO_PROJECT_DIR).',
  });
}

import { availableParallelism } from 'node:os';
import { stat, statfs } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Facts about the build host that are not processes: free disk and cores.
 * The preflight reads them through this adapter; tests give it a made-up host.
 */
export interface Host {
  /** Free bytes for an unprivileged user on the file system that holds `path` (or its nearest existing parent). */
  freeBytes(path: string): Promise<{ bytes: number; measuredAt: string }>;
  /** Cores this process may use. */
  cores(): number;
  /** Whether an AWS config or credentials file with content is there (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, ~/.aws). */
  hasAwsFiles(env: NodeJS.ProcessEnv): Promise<boolean>;
}

export function createHost(): Host {
  return {
    async freeBytes(path) {
      // The work dir may not exist yet: measure the disk it will be created on.
      let at = path;
      for (;;) {
        try {
          const s = await statfs(at);
          return { bytes: s.bavail * s.bsize, measuredAt: at };
        } catch (error) {
          const parent = dirname(at);
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw error;
          at = parent;
        }
      }
    },
    cores: () => availableParallelism(),
    async hasAwsFiles(env) {
      const files = [
        env.AWS_CONFIG_FILE ?? join(homedir(), '.aws', 'config'),
        env.AWS_SHARED_CREDENTIALS_FILE ?? join(homedir(), '.aws', 'credentials'),
      ];
      const sizes = await Promise.all(
        files.map((f) =>
          stat(f).then(
            (s) => s.size,
            () => 0,
          ),
        ),
      );
      return sizes.some((size) => size > 0);
    },
  };
}

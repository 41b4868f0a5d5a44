/**
 * Points a format-patch at files upstream renamed: the `diff --git`, `---`,
 * `+++` and `rename`/`copy` header lines of each file change. Hunk lines are
 * left alone (only header lines come between `diff --git` and the first
 * `@@`). The message, and the `index` lines that a three-way merge uses to
 * find the original blobs, are kept.
 */
export function rewritePaths(patch: string, moves: ReadonlyMap<string, string> | ((path: string) => string)): string {
  if (typeof moves !== 'function' && !moves.size) return patch;
  const to = typeof moves === 'function' ? moves : (path: string) => moves.get(path) ?? path;
  let inHeader = false;
  return patch
    .split('\n')
    .map((line) => {
      if (line.startsWith('diff --git ')) {
        inHeader = true;
        // The same path on both sides first: a path may itself contain " b/".
        const m = /^diff --git a\/(.+) b\/\1$/.exec(line) ?? /^diff --git a\/(.+) b\/(.+)$/.exec(line);
        return m ? `diff --git a/${to(m[1]!)} b/${to(m[2] ?? m[1]!)}` : line;
      }
      if (!inHeader) return line;
      if (line.startsWith('@@')) {
        inHeader = false;
        return line;
      }
      const m = /^(--- a\/|\+\+\+ b\/|rename from |rename to |copy from |copy to )(.+)$/.exec(line);
      return m ? `${m[1]}${to(m[2]!)}` : line;
    })
    .join('\n');
}

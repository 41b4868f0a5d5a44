/** Where a command reads its environment and writes its output: the process's own in the bin, buffers in tests. */
export interface Io {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

import { parse } from 'smol-toml';
import { expect } from 'vitest';
import { validateVariant } from '../../src/config/variant.js';
import { ConfigError } from '../../src/shared/errors.js';

/** The message of the configuration error (exit 2) a variant file's TOML gives; fails the test when it is valid. */
export function problems(toml: string): string {
  try {
    validateVariant('variants/aws-k8s-1.18.toml', parse(toml), 'aws-k8s-1.18');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

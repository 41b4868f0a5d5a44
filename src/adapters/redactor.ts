/**
 * Keeps every secret bro has read (registry passwords, ECR tokens, AWS
 * credentials, credentials embedded in URLs) and scrubs them from any text
 * that leaves the process: logs, errors, plans, manifests.
 * Secrets are registered the moment they are read.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short strings would redact ordinary words; nothing we guard is that short.
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = redactUrlCredentials(text);
    // Longest first, so a secret that contains another is replaced whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join('***');
    }
    return out;
  }

  /**
   * Redacts every string in a JSON-like value, string by string: a secret
   * holding `"` or `\\` would no longer match once the whole value is JSON-escaped.
   */
  redactValue<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v)) as T;
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.redact(k), this.redactValue(v)])) as T;
    }
    return value;
  }
}

/** `https://user:token@host/x` → `https://***@host/x`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@:]+(?::[^/\s@]*)?@/gi, '$1***@');
}

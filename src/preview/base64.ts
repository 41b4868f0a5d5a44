/**
 * Base64 decoding exactly as strict as the Rust `base64` crate 0.13
 * (`base64::decode`, STANDARD alphabet), which schnauzer's `base64_decode`
 * helper and the model's `ValidBase64` use at Bottlerocket v1.0.4. Node's
 * Buffer decoder skips invalid characters; this one refuses them:
 * - only `A-Z a-z 0-9 + /`, with at most two `=` of padding at the end;
 * - padding is optional, but when present it must sit at positions 2-3 of the last quad;
 * - a length of 1 modulo 4 is invalid;
 * - the last symbol may not carry bits that decoding would discard.
 */
export type Base64Result = { ok: true; bytes: Buffer } | { ok: false; reason: string };

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function decodeBase64(input: string): Base64Result {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(input);
  if (!match) {
    const index = [...input].findIndex((c, i) => !ALPHABET.includes(c) && !(c === '=' && i >= input.length - 2));
    return { ok: false, reason: `Invalid byte at offset ${index < 0 ? input.indexOf('=') : index}` };
  }
  const [, data = '', padding = ''] = match;
  if (input.length % 4 === 1) return { ok: false, reason: 'Encoded text cannot have a 6-bit remainder.' };
  const rest = data.length % 4;
  if (padding && (rest < 2 || rest + padding.length > 4))
    return { ok: false, reason: `Invalid byte at offset ${data.length}` };
  if (rest === 1) return { ok: false, reason: 'Encoded text cannot have a 6-bit remainder.' };
  const last = data.length ? ALPHABET.indexOf(data[data.length - 1] as string) : 0;
  const unusedBits = rest === 2 ? 0b1111 : rest === 3 ? 0b11 : 0;
  if (last & unusedBits)
    return { ok: false, reason: `Invalid last symbol ${data.charCodeAt(data.length - 1)}, offset ${data.length - 1}.` };
  return { ok: true, bytes: Buffer.from(data, 'base64') };
}

/** Decodes to text, refusing invalid UTF-8 as Rust's `str::from_utf8` does. */
export function decodeBase64Utf8(input: string): { ok: true; text: string } | { ok: false; reason: string } {
  const decoded = decodeBase64(input);
  if (!decoded.ok) return decoded;
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(decoded.bytes) };
  } catch {
    return { ok: false, reason: 'invalid utf-8' };
  }
}

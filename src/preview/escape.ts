/**
 * How handlebars-rust 3.5.1 (the version in Bottlerocket v1.0.4's
 * sources/Cargo.lock) turns a value into template output.
 *
 * - `escapeHtml` is `support::str::escape_html`, applied to `{{value}}` but
 *   not to `{{{value}}}` nor to what a helper such as schnauzer's writes.
 * - `renderJson` is `JsonRender for Json` in src/json/value.rs.
 */

const HTML_ESCAPES: Record<string, string> = {
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '&': '&amp;',
  "'": '&#x27;',
  '`': '&#x60;',
  '=': '&#x3D;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[<>"&'`=]/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** A JSON value as handlebars-rust renders it: strings as-is, null empty, arrays as `[a, b, ]`, objects as `[object]`. */
export function renderJson(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => `${renderJson(v)}, `).join('')}]`;
  return '[object]';
}

import type { HelperOptions } from 'handlebars';
import { escapeHtml, renderJson } from './escape.js';

/**
 * A Handlebars that renders like handlebars-rust 3.5.1 in strict mode, as
 * schnauzer (sources/api/schnauzer/src/lib.rs at Bottlerocket v1.0.4) sets it
 * up. handlebars.js does the parsing; the differences that change output are
 * handled here:
 * - `{{value}}` escapes with handlebars-rust's `escape_html` and renders
 *   arrays and objects its way; a missing value is an error (strict mode),
 *   but a missing helper parameter is null.
 * - What a helper writes is not escaped (schnauzer's helpers write to `out`).
 * - No standalone-line whitespace removal (handlebars-rust 3.x has none); `~` works as in both.
 * - `if`/`unless` use Rust truthiness (an empty object is false); `each` sets
 *   `@first`/`@last`/`@index` for arrays and only `@first`/`@key` for objects.
 * - `each` (and join_map) iterate object keys in sorted order: serde_json's Map is a BTreeMap.
 *
 * handlebars-rust 4 (Bottlerocket since v1.3.0; the tree's sources/Cargo.lock says which) differs
 * in two ways that change output, both on with `handlebars4`:
 * - standalone lines (`{{#if x}}` alone on a line) are removed, as in handlebars.js (4.0, #404; 4.1.4);
 * - strict mode applies to the built-in helpers made by `handlebars_helper!` (`eq`, `ne`, `gt`, …,
 *   `not`, `len`): a missing parameter fails the render (4.1.0).
 */

export interface EngineOptions {
  /** handlebars-rust 4's rules instead of 3.5's (see above). */
  handlebars4?: boolean;
}

/** A helper call as schnauzer's helpers see it. Missing parameters are null. */
export interface HelperCall {
  name: string;
  params: unknown[];
  hash: Record<string, unknown>;
  /** The root template name, for messages. */
  template: string;
  /** What the node the template renders on knows about itself, when the render is for one. */
  node?: NodeEnv;
}

/** What schnauzer's helpers read from the node itself rather than from settings. */
export interface NodeEnv {
  /** `num_cpus::get()` */
  cpus: number;
}

/** Returns what the helper writes to the output, unescaped. Throws to fail the render. */
export type Helper = (call: HelperCall) => string;

export class TemplateRenderError extends Error {
  constructor(
    readonly template: string,
    readonly line: number | undefined,
    message: string,
    /** The variable that strict mode found missing. */
    readonly missing?: string,
  ) {
    super(`${template}${line ? `:${line}` : ''}: ${message}`);
    this.name = 'TemplateRenderError';
  }
}

export interface Engine {
  /** Renders `template` with `data` (on `node`, for helpers that read it); throws TemplateRenderError. */
  render(name: string, template: string, data: unknown, node?: NodeEnv): string;
  /** Parses `template`; throws TemplateRenderError on a syntax error. */
  parse(name: string, template: string): void;
}

const VALUE_HELPER = '__bro_value';

/** Compares strings by Unicode code point, the order of Rust's `String` in a BTreeMap. */
export function compareCodePoints(a: string, b: string): number {
  const ca = [...a];
  const cb = [...b];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = (ca[i] as string).codePointAt(0)! - (cb[i] as string).codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `JsonTruthy::is_truthy` */
export function isTruthy(value: unknown, includeZero: boolean): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number')
    return includeZero ? !Number.isNaN(value) : Number.isFinite(value) && Math.abs(value) >= 2.2250738585072014e-308;
  if (typeof value === 'string' || Array.isArray(value)) return value.length > 0;
  return Object.keys(value).length > 0;
}

type Node = { type: string; [key: string]: unknown };

/** Deep equality of JSON values, as serde_json's `Value: PartialEq`. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return false;
}

const integers = (params: unknown[], f: (x: number, y: number) => boolean) => {
  const [x, y] = params;
  return Number.isInteger(x) && Number.isInteger(y) ? f(x as number, y as number) : undefined;
};

/** handlebars-rust 3.5.1's built-in value helpers (src/helpers/helper_boolean.rs): [name, parameters, result or undefined when a parameter has the wrong type]. */
const BOOLEAN_HELPERS: [string, number, (params: unknown[]) => boolean | undefined][] = [
  ['eq', 2, ([x, y]) => jsonEqual(x, y)],
  ['ne', 2, ([x, y]) => !jsonEqual(x, y)],
  ['gt', 2, (p) => integers(p, (x, y) => x > y)],
  ['gte', 2, (p) => integers(p, (x, y) => x >= y)],
  ['lt', 2, (p) => integers(p, (x, y) => x < y)],
  ['lte', 2, (p) => integers(p, (x, y) => x <= y)],
  ['and', 2, ([x, y]) => isTruthy(x, false) && isTruthy(y, false)],
  ['or', 2, ([x, y]) => isTruthy(x, false) || isTruthy(y, false)],
  ['not', 1, ([x]) => !isTruthy(x, false)],
];
type Loc = { start: { line: number; column: number } };

export async function createEngine(helpers: Record<string, Helper>, opts: EngineOptions = {}): Promise<Engine> {
  const { default: Handlebars } = await import('handlebars');
  const hb = Handlebars.create();
  const ignoreStandalone = !opts.handlebars4;
  let current = '';
  let currentNode: NodeEnv | undefined;
  const lineOf = (options: HelperOptions | undefined) => (options as { loc?: Loc } | undefined)?.loc?.start.line;
  const fail = (options: HelperOptions | undefined, message: string, missing?: string) =>
    new TemplateRenderError(current, lineOf(options), message, missing);
  // A helper's output is another's parameter as a string, as in handlebars-rust; a missing value is null.
  const param = (value: unknown) =>
    value === undefined ? null : value instanceof hb.SafeString ? value.toString() : value;

  hb.registerHelper(VALUE_HELPER, (value: unknown, options: HelperOptions) => {
    if (value === undefined)
      throw fail(
        options,
        `Variable "${String(options.hash.path)}" not found in strict mode`,
        String(options.hash.path),
      );
    const rendered = renderJson(value);
    return new hb.SafeString(options.hash.escape ? escapeHtml(rendered) : rendered);
  });
  for (const [name, positive] of [
    ['if', true],
    ['unless', false],
  ] as const) {
    hb.registerHelper(name, function (this: unknown, ...args: unknown[]) {
      const options = args.pop() as HelperOptions;
      if (args.length === 0) throw fail(options, `Param not found for helper "${name}"`);
      return isTruthy(param(args[0]), options.hash.includeZero === true) === positive
        ? options.fn(this)
        : options.inverse(this);
    });
  }
  hb.registerHelper('each', function (this: unknown, ...args: unknown[]) {
    const options = args.pop() as HelperOptions;
    if (args.length === 0) throw fail(options, 'Param not found for helper "each"');
    const value = param(args[0]);
    const entries: [string | number, unknown][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : isObject(value)
        ? Object.keys(value)
            .sort(compareCodePoints)
            .map((k) => [k, value[k]])
        : [];
    if (entries.length === 0) return options.inverse(this);
    return entries
      .map(([key, item], i) => {
        const data = hb.createFrame(options.data) as Record<string, unknown>;
        for (const local of ['first', 'last', 'index', 'key']) delete data[local];
        data.first = i === 0;
        if (typeof key === 'number') Object.assign(data, { last: i === entries.length - 1, index: key });
        else {
          data.key = key;
          // `@last` for objects since handlebars-rust 4.1.3.
          if (opts.handlebars4) data.last = i === entries.length - 1;
        }
        return options.fn(item, { data, blockParams: [item, key] });
      })
      .join('');
  });
  for (const [name, helper] of Object.entries(helpers)) {
    hb.registerHelper(name, (...args: unknown[]) => {
      const options = args.pop() as HelperOptions;
      try {
        return new hb.SafeString(
          helper({
            name,
            params: args.map(param),
            hash: options.hash as Record<string, unknown>,
            template: current,
            node: currentNode,
          }),
        );
      } catch (error) {
        if (error instanceof TemplateRenderError) throw error;
        // A helper that fails on a missing parameter names the setting that is missing (compiled with trackIds).
        const ids = (options as { ids?: unknown[] }).ids ?? [];
        const missing = ids.find((id, i) => args[i] === undefined && typeof id === 'string');
        throw fail(options, (error as Error).message, missing as string | undefined);
      }
    });
  }
  for (const [name, arity, compute] of BOOLEAN_HELPERS) {
    hb.registerHelper(name, (...args: unknown[]) => {
      const options = args.pop() as HelperOptions;
      const missing = opts.handlebars4 ? args.findIndex((a) => a === undefined) : -1;
      if (missing >= 0) throw fail(options, `\`${name}\` helper: Couldn't read parameter ${missing + 1}`);
      const params = args.map(param);
      if (params.length < arity)
        throw fail(options, `\`${name}\` helper: Couldn't read parameter ${params.length + 1}`);
      const result = compute(params);
      if (result === undefined)
        throw fail(
          options,
          `\`${name}\` helper: Couldn't convert parameters ${JSON.stringify(params)} to type \`i64\``,
        );
      return result;
    });
  }
  const helperNames = new Set(Object.keys(hb.helpers));

  /** `{{path}}` and `{{{path}}}` become `{{{__bro_value path escape=… path="…"}}}`; helper calls stay. */
  const rewrite = (node: Node): void => {
    if (node.type === 'Program') {
      node.body = (node.body as Node[]).map((statement) => {
        if (statement.type === 'BlockStatement') {
          if (statement.program) rewrite(statement.program as Node);
          if (statement.inverse) rewrite(statement.inverse as Node);
          return statement;
        }
        if (statement.type !== 'MustacheStatement' || isHelperCall(statement)) return statement;
        const loc = statement.loc;
        const path = statement.path as Node & { original?: unknown };
        const literal = (type: string, value: unknown) => ({ type, value, original: value, loc });
        return {
          ...statement,
          escaped: false,
          path: { type: 'PathExpression', data: false, depth: 0, parts: [VALUE_HELPER], original: VALUE_HELPER, loc },
          params: [path],
          hash: {
            type: 'Hash',
            loc,
            pairs: [
              { type: 'HashPair', key: 'escape', value: literal('BooleanLiteral', statement.escaped), loc },
              { type: 'HashPair', key: 'path', value: literal('StringLiteral', String(path.original)), loc },
            ],
          },
        };
      });
    }
  };
  const isHelperCall = (m: Node): boolean => {
    const path = m.path as { type: string; data?: boolean; depth?: number; parts?: string[] };
    if ((m.params as unknown[]).length > 0 || ((m.hash as { pairs?: unknown[] } | undefined)?.pairs?.length ?? 0) > 0)
      return true;
    return (
      path.type === 'PathExpression' &&
      !path.data &&
      path.depth === 0 &&
      path.parts?.length === 1 &&
      helperNames.has(path.parts[0] as string)
    );
  };

  const parse = (name: string, template: string) => {
    try {
      return hb.parse(template, { ignoreStandalone }) as unknown as Node;
    } catch (error) {
      const line = /on line (\d+)/.exec((error as Error).message)?.[1];
      throw new TemplateRenderError(
        name,
        line ? Number(line) : undefined,
        `invalid template: ${(error as Error).message.split('\n')[0]}`,
      );
    }
  };

  return {
    parse(name, template) {
      parse(name, template);
    },
    render(name, template, data, node) {
      const ast = parse(name, template);
      rewrite(ast);
      current = name;
      currentNode = node;
      try {
        // trackIds gives helpers the paths of their parameters (not in the type definitions).
        const compileOptions = { ignoreStandalone, trackIds: true };
        return hb.compile(ast, compileOptions)(data);
      } catch (error) {
        if (error instanceof TemplateRenderError) throw error;
        throw new TemplateRenderError(name, undefined, (error as Error).message.split('\n')[0] ?? String(error));
      }
    },
  };
}

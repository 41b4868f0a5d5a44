import { describe, expect, it } from 'vitest';
import { createEngine, TemplateRenderError, type Helper } from '../src/preview/engine.js';
import { escapeHtml, renderJson } from '../src/preview/escape.js';
import { KNOWN_HELPERS } from '../src/preview/schnauzer.js';

/** Renders with schnauzer's helpers, as thar-be-settings would. */
async function render(
  template: string,
  data: unknown,
  helpers: Record<string, Helper> = KNOWN_HELPERS,
): Promise<string> {
  return (await createEngine(helpers)).render('t', template, data);
}

describe('handlebars-rust 3.5.1 escaping', () => {
  it('escapes exactly < > " & \' ` = and nothing else (backslashes and non-ASCII pass through)', () => {
    expect(escapeHtml('<a href="x">&\'`=')).toBe('&lt;a href&#x3D;&quot;x&quot;&gt;&amp;&#x27;&#x60;&#x3D;');
    expect(escapeHtml('back\\slash 비밀번호 💝 ünï')).toBe('back\\slash 비밀번호 💝 ünï');
  });

  it('renders values as JsonRender does: null empty, arrays as "[a, b, ]", objects as "[object]"', () => {
    expect(renderJson(null)).toBe('');
    expect(renderJson(['a', 1, true])).toBe('[a, 1, true, ]');
    expect(renderJson({ a: 1 })).toBe('[object]');
    expect(renderJson(29)).toBe('29');
  });

  it('escapes {{value}}, not {{{value}}}', async () => {
    const data = { v: 'pa"ss\\word&<é>' };
    expect(await render('{{v}}|{{{v}}}', data)).toBe('pa&quot;ss\\word&amp;&lt;é&gt;|pa"ss\\word&<é>');
  });

  it('does not escape what a helper writes, as schnauzer helpers write to the output directly', async () => {
    expect(await render('{{default "a&b<c>" missing}}', {})).toBe('a&b<c>');
    expect(await render('{{base64_decode v}}', { v: Buffer.from('x="1"&y').toString('base64') })).toBe('x="1"&y');
  });

  it('fails on a missing variable (strict mode), naming it, but passes a missing helper parameter as null', async () => {
    const error = await render('a\n{{settings.kubernetes.cluster-name}}', { settings: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemplateRenderError);
    expect((error as TemplateRenderError).missing).toBe('settings.kubernetes.cluster-name');
    expect((error as TemplateRenderError).message).toBe(
      't:2: Variable "settings.kubernetes.cluster-name" not found in strict mode',
    );
    expect(await render('{{default 110 settings.kubernetes.max-pods}}', { settings: {} })).toBe('110');
  });

  it('names the missing setting when a helper fails on it', async () => {
    const error = (await render('{{base64_decode settings.c}}', { settings: {} }).catch(
      (e: unknown) => e,
    )) as TemplateRenderError;
    expect(error.missing).toBe('settings.c');
    expect(error.message).toContain("Invalid base64 template value, expected string, got 'null' in template t");
  });

  it('keeps standalone block lines (handlebars-rust 3 has no standalone removal); ~ strips whitespace', async () => {
    expect(await render('a:\n{{#if x}}\n  b\n{{/if}}\nc', { x: true })).toBe('a:\n\n  b\n\nc');
    expect(await render('a:\n{{~#if x}}\n  b\n{{~/if}}\nc', { x: true })).toBe('a:\n  b\nc');
  });

  it('uses Rust truthiness: empty objects and arrays, 0 and "" are false; includeZero counts 0', async () => {
    const t = '{{#if v}}T{{else}}F{{/if}}';
    const results = await Promise.all([{}, { a: 1 }, [], [0], 0, 1, '', 's', false, null].map((v) => render(t, { v })));
    expect(results.join('')).toBe('FTFTFTFTFF');
    expect(await render('{{#if v includeZero=true}}T{{else}}F{{/if}}', { v: 0 })).toBe('T');
    expect(await render('{{#unless v}}U{{/unless}}', { v: {} })).toBe('U');
  });

  it('iterates objects in sorted key order with @first and @key only, arrays with @first, @last and @index', async () => {
    const data = { m: { b: 2, '10': 'ten', a: 1, é: 3, '9': 'nine' }, l: ['x', 'y'] };
    expect(await render('{{#each m}}{{@key}}={{this}}{{#if @first}}!{{/if}},{{/each}}', data)).toBe(
      '10=ten!,9=nine,a=1,b=2,é=3,',
    );
    expect(
      await render('{{#each l}}{{@index}}{{this}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}', data),
    ).toBe('0xF 1yL ');
    await expect(render('{{#each m}}{{@last}}{{/each}}', data)).rejects.toThrow(/@last" not found/);
    expect(await render('{{#each missing}}x{{else}}none{{/each}}', {})).toBe('none');
  });

  it("has handlebars-rust's eq/ne/and/or/not/gt; a missing value equals null", async () => {
    expect(await render('{{#if (eq g.Foo null)}}default{{/if}}', { g: {} })).toBe('default');
    expect(await render('{{#if (eq g.Foo null)}}default{{/if}}', { g: { Foo: false } })).toBe('');
    expect(await render('{{eq a b}} {{ne a b}} {{and a 0}} {{or 0 a}} {{not a}} {{gt 5 3}}', { a: [1], b: [1] })).toBe(
      'true false false true false true',
    );
    await expect(render('{{gt "5" 3}}', {})).rejects.toThrow(/Couldn't convert/);
  });

  it('reports a syntax error with its line', async () => {
    const engine = await createEngine(KNOWN_HELPERS);
    expect(() => engine.parse('bad', 'ok\n{{#if x}}\nno close')).toThrow(/^bad:\d+: invalid template/);
  });
});

import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBase64Utf8 } from '../src/preview/base64.js';
import { createEngine } from '../src/preview/engine.js';
import {
  ecrRegistry,
  KNOWN_HELPERS,
  registeredHelperNames,
  schnauzerHelpers,
  tomlBasicString,
} from '../src/preview/schnauzer.js';
import { addedCode, postImage, readPatch, rustStringPairs } from './helpers/preview-fixtures.js';

/** Renders like schnauzer's unit tests do: one template, strict mode, the helpers. */
async function render(template: string, data: unknown): Promise<string> {
  return (await createEngine(KNOWN_HELPERS)).render('dynamic template', template, data);
}

describe('base64_decode (schnauzer at v1.0.4, the base64 crate 0.13)', () => {
  it('decodes, and refuses invalid base64, invalid UTF-8 and a wrong parameter count', async () => {
    expect(await render('{{base64_decode var}}', { var: 'SGk=' })).toBe('Hi');
    await expect(render('{{base64_decode var}}', { var: 'hi' })).rejects.toThrow(/Unable to base64 decode string 'hi'/);
    await expect(render('{{base64_decode var}}', { var: 'wygK' })).rejects.toThrow(/non-utf8/);
    await expect(render('{{base64_decode}}', { var: 'foo' })).rejects.toThrow(/1 expected, 0 received/);
    await expect(render('{{base64_decode var1 var2}}', { var1: 'Zm9v', var2: 'YmFy' })).rejects.toThrow(
      /1 expected, 2 received/,
    );
  });

  it('is as strict as the Rust crate, not as lenient as Node', () => {
    const valid = ['', 'SGk', 'SGk=', 'QQ==', 'QQ=', 'QQ', 'QUJD', 'QUJDQQ=', 'YWJjZGVmZ2g='];
    const invalid = [
      'Q',
      'QUJDQ',
      'QQ===',
      'QR==',
      'SGl=',
      'QUJD=',
      'QUJD==',
      'Q===',
      'SG k=',
      'SGk=\n',
      'SG=k',
      '-_8=',
    ];
    expect(valid.filter((v) => !decodeBase64(v).ok)).toEqual([]);
    expect(invalid.filter((v) => decodeBase64(v).ok)).toEqual([]);
    expect(decodeBase64Utf8('77u/YQ==')).toEqual({ ok: true, text: '\uFEFFa' });
  });
});

describe('join_map', () => {
  const t = (mode: string) => `{{join_map "=" "," "${mode}" map}}`;
  it('joins scalars in key order, fails on nested values, honours fail-if-missing', async () => {
    expect(await render(t('fail-if-missing'), { map: { whats: 'up', hi: 'there' } })).toBe('hi=there,whats=up');
    expect(await render(t('fail-if-missing'), { map: { hi: 42, ok: true } })).toBe('hi=42,ok=true');
    await expect(render(t('fail-if-missing'), { map: { hi: { too: 'deep' } } })).rejects.toThrow(/expected scalar/);
    await expect(render(t('fail-if-missing'), {})).rejects.toThrow(/fail-if-missing was set/);
    expect(await render(t('no-fail-if-missing'), {})).toBe('');
    await expect(render(t('sup'), {})).rejects.toThrow(/fail-if-missing or no-fail-if-missing/);
  });
});

describe('default', () => {
  it('writes the setting when set, else the default, as Display writes scalars', async () => {
    expect(await render('{{default "42" setting}}', { setting: 'hi' })).toBe('hi');
    expect(await render('{{default "42" setting}}', {})).toBe('42');
    expect(await render('{{default "42" setting}}', { setting: true })).toBe('true');
    expect(await render('{{default "42" setting}}', { setting: 42.42 })).toBe('42.42');
    expect(await render('{{default 42 setting}}', {})).toBe('42');
    expect(await render('{{default true setting}}', {})).toBe('true');
    await expect(render('{{default "42" setting}}', { setting: { a: 1 } })).rejects.toThrow(/expected scalar/);
  });
});

describe('ecr-prefix', () => {
  it("maps regions to Bottlerocket's registries, with the us-east-1 fallback", async () => {
    const t = '{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.5.1';
    expect(await render(t, { settings: { aws: { region: 'eu-central-1' } } })).toBe(
      '328549459982.dkr.ecr.eu-central-1.amazonaws.com/bottlerocket-admin:v0.5.1',
    );
    expect(await render(t, { settings: { aws: { region: 'af-south-1' } } })).toBe(
      '917644944286.dkr.ecr.af-south-1.amazonaws.com/bottlerocket-admin:v0.5.1',
    );
    expect(ecrRegistry('xy-ztown-1')).toBe('328549459982.dkr.ecr.us-east-1.amazonaws.com');
  });
});

describe('toml_encode (patches/bottlerocket/1.0.4, "schnauzer: add toml_encode helper")', () => {
  const patch = readPatch('toml_encode');

  it('matches every TOML_STRING_VECTORS entry of the Rust unit tests', () => {
    const vectors = rustStringPairs(addedCode(patch), 'TOML_STRING_VECTORS');
    expect(vectors.length).toBeGreaterThanOrEqual(10);
    for (const [input, expected] of vectors) expect(tomlBasicString(input), JSON.stringify(input)).toBe(expected);
  });

  it('writes TOML values, unescaped by handlebars, that parse back to exactly the input', async () => {
    expect(await render('password = {{toml_encode password}}', { password: 'a"b\\c<&>\'`=' })).toBe(
      'password = "a\\"b\\\\c<&>\'`="',
    );
    expect(
      await render('{{toml_encode b}} {{toml_encode n}} {{toml_encode f}} {{toml_encode a}}', {
        b: true,
        n: 42,
        f: 1.5,
        a: ['x', 'y"', 3, [false]],
      }),
    ).toBe('true 42 1.5 ["x", "y\\"", 3, [false]]');
    for (const value of [
      '',
      'EXAMPLE-"quoted"-\\back\\slash-&-amp',
      "a'''b",
      '비밀 💝',
      '\u0000\u001f\u007f\u0080\u2028',
      '\\u0041',
      '"""',
      'tab\there',
    ]) {
      const text = await render('k = {{toml_encode v}}\n[t.{{toml_encode v}}]\nx = 1', { v: value });
      const parsed = parseToml(text) as { k: string; t: Record<string, unknown> };
      expect(parsed.k).toBe(value);
      expect(Object.keys(parsed.t)).toEqual([value]);
    }
  });

  it('fails on null, a missing value and objects, without showing the value', async () => {
    await expect(render('{{toml_encode nope}}', {})).rejects.toThrow(/can't encode a null value/);
    const error = await render('{{toml_encode x}}', { x: { pw: 'secret' } }).catch((e: Error) => e);
    expect(String(error)).toMatch(/can't encode a object value/);
    expect(String(error)).not.toContain('secret');
    await expect(render('{{toml_encode x}}', { x: [{ a: 'b' }] })).rejects.toThrow(/object/);
    await expect(render('{{toml_encode a b}}', { a: '1', b: '2' })).rejects.toThrow(/1 expected, 2 received/);
  });

  it('is registered by the patched schnauzer, and bro simulates every helper it registers', () => {
    const names = registeredHelperNames(postImage(patch, 'sources/api/schnauzer/src/lib.rs'));
    expect(names).toContain('toml_encode');
    expect(names.filter((n) => !KNOWN_HELPERS[n])).toEqual([]);
  });
});

describe("schnauzer's helpers at v1.7.2 (helpers.rs), and handlebars-rust 4's rules", () => {
  const render4 = async (template: string, data: unknown, cpus?: number) =>
    (await createEngine(KNOWN_HELPERS, { handlebars4: true })).render(
      'dynamic template',
      template,
      data,
      cpus === undefined ? undefined : { cpus },
    );

  it('kube_reserve_cpu: the setting when set, else 60/70/75/80m for 1-4 cores and 2.5m per core beyond, rounded down', async () => {
    const cpu = (cpus: number) => render4('{{kube_reserve_cpu settings.kube-reserved.cpu}}', { settings: {} }, cpus);
    expect(await Promise.all([1, 2, 3, 4, 5, 6, 96].map(cpu))).toEqual([
      '60m',
      '70m',
      '75m',
      '80m',
      '82m',
      '85m',
      '310m',
    ]);
    expect(await render4('{{kube_reserve_cpu x}}', { x: '250m' }, 2)).toBe('250m');
    await expect(render4('{{kube_reserve_cpu x}}', { x: ['1'] }, 2)).rejects.toThrow(/expected scalar/);
  });

  it('kube_reserve_memory: 11 MiB per max pod + 255 MiB unless set; max-pods must be a number', async () => {
    expect(await render4('{{kube_reserve_memory pods m}}', { pods: 29 })).toBe('574Mi');
    expect(await render4('{{kube_reserve_memory pods m}}', { pods: 29, m: '1Gi' })).toBe('1Gi');
    await expect(render4('{{kube_reserve_memory pods m}}', { pods: '29' })).rejects.toThrow(/expected number/);
  });

  it('join_array quotes each string as-is; join_node_taints joins key=value:Effect in key order', async () => {
    expect(await render4('[{{join_array ", " xs}}]', { xs: ['https://a', 'b"c'] })).toBe('["https://a", "b"c"]');
    await expect(render4('{{join_array ", " xs}}', { xs: [1] })).rejects.toThrow(
      /join_array helper expected type 'string'/,
    );
    expect(
      await render4('{{join_node_taints t}}', { t: { z: ['1:NoSchedule'], a: ['2:NoExecute', '3:NoSchedule'] } }),
    ).toBe('a=2:NoExecute,a=3:NoSchedule,z=1:NoSchedule');
    expect(await render4('{{join_node_taints t}}', {})).toBe('');
  });

  it('host, goarch', async () => {
    expect(await render4('{{host u}}', { u: 'https://proxy.example.com:3128/x' })).toBe('proxy.example.com');
    await expect(render4('{{host u}}', { u: 'not a url' })).rejects.toThrow(/Expected an absolute URL/);
    expect(await render4('{{goarch a}} {{goarch b}}', { a: 'x86_64', b: 'aarch64' })).toBe('amd64 arm64');
    await expect(render4('{{goarch a}}', { a: 'mips' })).rejects.toThrow(/Unknown architecture 'mips'/);
  });

  it('strict mode fails `eq` on a missing value (4.1+), where 3.5 read it as null', async () => {
    const template = '{{#if (eq gates.X null)}}default{{/if}}';
    expect(await render(template, { gates: {} })).toBe('default');
    await expect(render4(template, { gates: {} })).rejects.toThrow(/`eq` helper: Couldn't read parameter 1/);
    expect(await render4(template, { gates: { X: null } })).toBe('default');
  });

  it('removes standalone block lines, as handlebars.js (4.0+); 3.5 kept them', async () => {
    const template = 'a:\n{{#each xs}}\n  - {{this}}\n{{/each}}\nb\n';
    expect(await render4(template, { xs: [1, 2] })).toBe('a:\n  - 1\n  - 2\nb\n');
    expect(await render(template, { xs: [1, 2] })).toBe('a:\n\n  - 1\n\n  - 2\n\nb\n');
  });

  it("reads the region maps from the tree's helpers.rs", () => {
    const helpersRs = [
      'lazy_static! {',
      "    static ref PAUSE_CONTAINER_MAP: HashMap<&'static str, &'static str> = {",
      '        let mut m = HashMap::new();',
      '        m.insert("xx-test-1", "123456789012");',
      '        m',
      '    };',
      '}',
      'const PAUSE_FALLBACK_REGISTRY: &str = "602401143452";',
      'const PAUSE_FALLBACK_REGION: &str = "us-east-1";',
    ].join('\n');
    const prefix = schnauzerHelpers(helpersRs)['pause-prefix']!;
    const call = (region: string) => prefix({ name: 'pause-prefix', params: [region], hash: {}, template: 't' });
    expect(call('xx-test-1')).toBe('123456789012.dkr.ecr.xx-test-1.amazonaws.com');
    expect(call('us-west-2')).toBe('602401143452.dkr.ecr.us-east-1.amazonaws.com');
  });
});

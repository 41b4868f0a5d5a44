import { z } from 'zod';
import { ConfigError } from '../shared/errors.js';
import { isKnownRegion } from './aws-regions.js';
import { parseDeprecation } from './deprecation.js';
import type { SourceName } from './series.js';

/**
 * The variant file, `variants/<name>.toml`: one Bottlerocket variant as this
 * team builds it. Keys are kebab-case, like Bottlerocket's own TOML. Unknown
 * keys are errors: a typo must never be silently ignored on a production AMI.
 */

export const DEFAULT_BOTTLEROCKET_URL = 'https://github.com/bottlerocket-os/bottlerocket.git';
export const DEFAULT_ADMIN_CONTAINER_URL = 'https://github.com/bottlerocket-os/bottlerocket-admin-container.git';

const accountId = z
  .string({ error: 'expected a 12-digit AWS account ID in quotes, e.g. "123456789012"' })
  .regex(/^\d{12}$/, { error: 'expected a 12-digit AWS account ID, e.g. "123456789012"' });

const region = z
  .string({ error: 'expected an AWS region name such as "us-east-1"' })
  .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, {
    error: 'expected an AWS region name such as "us-east-1" or "ap-northeast-1"',
  });

const gitRef = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, { error: 'expected a tag, a branch or a 40-character commit' });

const source = (defaultUrl: string) =>
  z.strictObject({
    url: z.string().min(1).default(defaultUrl).describe('Any git URL, including a local path'),
    ref: gitRef.optional().describe('A tag, or a commit for an untagged base'),
  });

/** The admin container differs per Bottlerocket base: `refs` maps a base tag to its ref, `ref` is the rest. */
const adminSource = source(DEFAULT_ADMIN_CONTAINER_URL).extend({
  refs: z
    .record(z.string(), gitRef)
    .superRefine((refs, ctx) => {
      for (const tag of Object.keys(refs).filter((t) => !/^v\d+\.\d+\.\d+$/.test(t)))
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(tag)} is not a Bottlerocket release tag: write the tag as --version names it, e.g. "v1.7.2"`,
        });
    })
    .default({})
    .describe('Per Bottlerocket base tag ("v1.7.2"), the admin container ref; wins over ref'),
});

const iamRoleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, {
  error: 'expected an IAM role ARN, e.g. "arn:aws:iam::123456789012:role/publish"',
});

// AMI names: 3-128 characters of letters, numbers, ( ) [ ] space . / - ' @ _
const amiName = z.string().regex(/^[A-Za-z0-9()[\] ./'@_-]{3,128}$/, {
  error: "expected 3-128 characters: letters, digits, spaces and ( ) [ ] . / - ' @ _",
});

// The patterns EC2 and Image Builder document for launch permissions.
const organizationArn = z.string().regex(/^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/, {
  error: 'expected an AWS Organizations ARN, e.g. "arn:aws:organizations::123456789012:organization/o-abcde12345"',
});
const organizationalUnitArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$/, {
    error:
      'expected an organizational unit ARN, e.g. "arn:aws:organizations::123456789012:ou/o-abcde12345/ou-ab12-cdef3456"',
  });

// Parameter Store: a path of letters, digits and _ . -; names under /aws or /ssm are AWS's own.
const ssmPrefix = z
  .string()
  .regex(/^(\/[A-Za-z0-9_.-]+)+$/, {
    error: 'expected a path such as "/bottlerocket/ami": starting with "/", no "//", no trailing "/"',
  })
  .refine((prefix) => !/^\/(aws|ssm)/i.test(prefix), {
    error: 'parameter names under /aws and /ssm are reserved by AWS; pick another first part, e.g. "/bro/ami"',
  });

const deprecateAfter = z.union([z.string(), z.date()]).superRefine((value, context) => {
  const parsed = parseDeprecation(value);
  if (typeof parsed === 'string') context.addIssue({ code: 'custom', message: parsed });
});

export const VariantSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]*$/, { error: 'expected a Bottlerocket variant name such as "aws-k8s-1.18"' }),
  arch: z.enum(['x86_64', 'aarch64']).default('x86_64'),
  regions: z.array(region).min(1, { error: 'list at least one region; the first is where the AMI is registered' }),
  'share-with': z.array(accountId).default([]).describe('Accounts that get launch permission on the AMIs'),
  'share-with-organizations': z
    .array(organizationArn)
    .default([])
    .describe(
      'Organizations whose accounts get launch permission on the AMIs (not on snapshots: EC2 shares those with accounts only)',
    ),
  'share-with-organizational-units': z.array(organizationalUnitArn).default([]).describe('The same, for OUs'),
  sources: z.strictObject({
    bottlerocket: source(DEFAULT_BOTTLEROCKET_URL).default({ url: DEFAULT_BOTTLEROCKET_URL }),
    'admin-container': adminSource.default({ url: DEFAULT_ADMIN_CONTAINER_URL, refs: {} }),
  }),
  'admin-image': z.strictObject({
    repository: z.string().regex(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/, {
      error: 'expected an ECR repository name such as "bottlerocket-admin"',
    }),
    'registry-account': accountId,
  }),
  ami: z
    .strictObject({
      name: amiName.optional().describe('Overrides the AMI name upstream would give'),
      description: z.string().max(255).optional(),
      'data-volume-size': z.number().int().min(1).max(16384).optional().describe('GiB'),
      tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
      'deprecate-after': deprecateAfter.optional().describe('"P180D" after registration, or a UTC date'),
    })
    .default({ tags: {} }),
  infra: z
    .strictObject({
      profile: z.string().min(1).optional(),
      role: iamRoleArn.optional(),
      'ssm-prefix': ssmPrefix.optional().describe('Where the version parameters and channels are published'),
      region: z.record(region, z.strictObject({ role: iamRoleArn.optional() })).default({}),
    })
    .default({ region: {} }),
});

export type Variant = z.infer<typeof VariantSchema>;

/** Validates a parsed variant document; every problem is reported with its key. Doubtful but valid values go to `warn`. */
export function validateVariant(
  file: string,
  data: unknown,
  expectedName?: string,
  warn: (message: string) => void = () => undefined,
): Variant {
  const result = VariantSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.length
        ? issue.path
            .map((p) => (typeof p === 'number' ? `[${p}]` : p))
            .join('.')
            .replace(/\.\[/g, '[')
        : '(top level)';
      const value = valueAt(data, issue.path);
      const shown = value === undefined || typeof value === 'object' ? '' : ` (got ${JSON.stringify(value)})`;
      if (issue.code === 'unrecognized_keys') {
        return `  - ${issue.keys.map((k) => (key === '(top level)' ? k : `${key}.${k}`)).join(', ')}: unknown key; remove it or check its spelling`;
      }
      return `  - ${key}: ${issue.message}${shown}`;
    });
    throw new ConfigError(file, `invalid variant file:\n${problems.join('\n')}`, {
      hint: `Fix ${file}; \`bro variants show <name>\` prints the resolved config once it is valid.`,
    });
  }
  const variant = result.data;
  if (expectedName && variant.name !== expectedName) {
    throw new ConfigError(file, `name = "${variant.name}" but the file is named for "${expectedName}"`, {
      hint: `Rename the file to variants/${variant.name}.toml or set name = "${expectedName}".`,
    });
  }
  const partitions = new Set(variant.regions.map(partitionOf));
  if (partitions.size > 1) {
    throw new ConfigError(
      file,
      `regions: ${variant.regions.join(', ')} span the AWS partitions ${[...partitions].join(', ')}`,
      {
        hint: 'An account, its ECR registry and its AMIs live in one partition: make one variant file per partition.',
      },
    );
  }
  const regions = new Set(variant.regions);
  if (regions.size !== variant.regions.length) {
    throw new ConfigError(file, `regions: ${twice(variant.regions)} is listed twice`, {
      hint: 'List each region once.',
    });
  }
  const unknown = variant.regions.filter((r) => !isKnownRegion(r));
  if (unknown.length) {
    throw new ConfigError(
      file,
      `regions: ${unknown.map((r) => JSON.stringify(r)).join(', ')} ${unknown.length > 1 ? 'are not AWS regions' : 'is not an AWS region'}`,
      {
        hint: 'Check the spelling (e.g. "us-east-1"). If AWS opened it after this bro was released, add it to src/config/aws-regions.ts.',
      },
    );
  }
  const ours = Object.keys(variant.ami.tags).filter((key) => key.toLowerCase().startsWith('bro:'));
  if (ours.length) {
    throw new ConfigError(
      file,
      `ami.tags.${ours[0]}: the bro: tag namespace is bro's own (it records each build there)`,
      { hint: 'Pick a key outside bro:, e.g. "team:version".' },
    );
  }
  const accounts = variant['share-with'];
  if (new Set(accounts).size !== accounts.length) {
    throw new ConfigError(file, `share-with: ${twice(accounts)} is listed twice`, { hint: 'List each account once.' });
  }
  for (const key of ['share-with-organizations', 'share-with-organizational-units'] as const) {
    if (new Set(variant[key]).size !== variant[key].length)
      throw new ConfigError(file, `${key}: ${twice(variant[key])} is listed twice`, { hint: 'List each ARN once.' });
  }
  const deprecateAfter = variant.ami['deprecate-after'];
  const deprecation = deprecateAfter === undefined ? undefined : parseDeprecation(deprecateAfter);
  if (deprecation && typeof deprecation !== 'string' && 'at' in deprecation && deprecation.at <= new Date()) {
    throw new ConfigError(
      file,
      `ami.deprecate-after: ${deprecation.at.toISOString()} is in the past: EC2 refuses to deprecate an AMI then`,
      { hint: 'Give a future date, or a duration after registration such as "P180D".' },
    );
  }
  if (
    !accounts.length &&
    !variant['share-with-organizations'].length &&
    !variant['share-with-organizational-units'].length
  )
    warn(`${file}: share-with is empty: the AMIs stay private to the account that builds them.`);
  for (const r of Object.keys(variant.infra.region)) {
    if (!regions.has(r)) {
      throw new ConfigError(file, `infra.region.${r}: "${r}" is not in regions`, {
        hint: `Add "${r}" to regions or remove [infra.region.${r}].`,
      });
    }
  }
  return variant;
}

/** The first value that appears twice. */
function twice(values: readonly string[]): string {
  return JSON.stringify(values.find((v, i) => values.indexOf(v) !== i));
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = data;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** aws, aws-cn, aws-us-gov or aws-iso*: the partition a region name belongs to. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  const special = /^[a-z]{2}-(gov|iso[a-z]?)-/.exec(region)?.[1];
  return special ? (special === 'gov' ? 'aws-us-gov' : `aws-${special}`) : 'aws';
}

export const ENV_URL: Record<SourceName, string> = {
  bottlerocket: 'BRO_BOTTLEROCKET_URL',
  'admin-container': 'BRO_ADMIN_CONTAINER_URL',
};

/** The env var (BRO_BOTTLEROCKET_URL, BRO_ADMIN_CONTAINER_URL) overrides the configured URL. */
export function urlForSource(name: SourceName, configured: string, env: NodeJS.ProcessEnv): string {
  return env[ENV_URL[name]] || configured;
}

# Infra.toml for pubsys, rendered by bro from variants/{{variant.name}}.toml.
# bro rewrites this file on every run; edit the variant file instead.
# Format: tools/pubsys/Infra.toml.example in the Bottlerocket tree.

[aws]
# The AMI is registered in the first region and copied to the others.
regions = {{{toml variant.regions}}}
{{#if variant.infra.profile}}
profile = {{{toml variant.infra.profile}}}
{{/if}}
{{#if variant.infra.role}}
role = {{{toml variant.infra.role}}}
{{/if}}
{{#if variant.infra.ssm-prefix}}
ssm_prefix = {{{toml variant.infra.ssm-prefix}}}
{{/if}}
{{#each variant.infra.region}}

[aws.region.{{{toml @key}}}]
{{#if this.role}}
role = {{{toml this.role}}}
{{/if}}
{{/each}}

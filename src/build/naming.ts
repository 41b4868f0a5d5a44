import { join } from 'node:path';
import type { Variant } from '../config/variant.js';
import type { BuildVersion } from '../config/version.js';

/**
 * Names and paths exactly as upstream derives them. Bottlerocket's
 * Makefile.toml (v1.0.x) defines:
 *   BUILDSYS_NAME            = "bottlerocket"
 *   BUILDSYS_VERSION_FULL    = "${BUILDSYS_VERSION_IMAGE}-${BUILDSYS_VERSION_BUILD}"
 *   BUILDSYS_NAME_VARIANT    = "${BUILDSYS_NAME}-${BUILDSYS_VARIANT}-${BUILDSYS_ARCH}"
 *   BUILDSYS_NAME_FULL       = "${BUILDSYS_NAME_VARIANT}-${BUILDSYS_VERSION_FULL}"
 *   BUILDSYS_OUTPUT_DIR      = "${BUILDSYS_IMAGES_DIR}/${BUILDSYS_ARCH}-${BUILDSYS_VARIANT}"
 *   PUBLISH_AMI_NAME_DEFAULT = "${BUILDSYS_NAME}-${BUILDSYS_VARIANT}-${BUILDSYS_ARCH}-v${BUILDSYS_VERSION_IMAGE}-${BUILDSYS_VERSION_BUILD}"
 * and `cargo make ami` writes "${BUILDSYS_OUTPUT_DIR}/${BUILDSYS_NAME_FULL}-amis.json".
 */
export const BUILDSYS_NAME = 'bottlerocket';

export function defaultAmiName(variant: Pick<Variant, 'name' | 'arch'>, version: BuildVersion): string {
  return `${BUILDSYS_NAME}-${variant.name}-${variant.arch}-v${version.upstream}-${version.build}`;
}

export function amiName(variant: Variant, version: BuildVersion): string {
  return variant.ami.name ?? defaultAmiName(variant, version);
}

export function nameFull(variant: Pick<Variant, 'name' | 'arch'>, version: BuildVersion): string {
  return `${BUILDSYS_NAME}-${variant.name}-${variant.arch}-${version.upstream}-${version.build}`;
}

export function imagesOutputDir(bottlerocketDir: string, variant: Pick<Variant, 'name' | 'arch'>): string {
  return join(bottlerocketDir, 'build', 'images', `${variant.arch}-${variant.name}`);
}

/** What `cargo make` writes and `cargo make ami` needs: `${BUILDSYS_NAME_FULL}.img.lz4` and `-data.img.lz4`. */
export function imageFiles(
  bottlerocketDir: string,
  variant: Pick<Variant, 'name' | 'arch'>,
  version: BuildVersion,
): string[] {
  const base = join(imagesOutputDir(bottlerocketDir, variant), nameFull(variant, version));
  return [`${base}.img.lz4`, `${base}-data.img.lz4`];
}

export function amisJsonPath(
  bottlerocketDir: string,
  variant: Pick<Variant, 'name' | 'arch'>,
  version: BuildVersion,
): string {
  return join(imagesOutputDir(bottlerocketDir, variant), `${nameFull(variant, version)}-amis.json`);
}

/** The admin image tag this build pushes: `<admin version>-<build>`, e.g. `v0.5.2-hc1`. */
export function adminImageTag(adminVersion: string, version: BuildVersion): string {
  return `${adminVersion}-${version.build}`;
}

/** The DNS suffix of AWS endpoints in a region's partition. */
export function awsDomain(region: string): string {
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
}

export function ecrRegistry(account: string, region: string): string {
  return `${account}.dkr.ecr.${region}.${awsDomain(region)}`;
}

export function adminImageUri(variant: Variant, region: string, tag: string): string {
  return `${ecrRegistry(variant['admin-image']['registry-account'], region)}/${variant['admin-image'].repository}:${tag}`;
}

/** Docker's and the admin container Makefile's names for an architecture. */
export function dockerArchs(arch: Variant['arch']): { ARCH: string; DOCKER_ARCH: string } {
  // Makefile: ARCH from x86_64:amd64 aarch64:arm64; DOCKER_ARCH from amd64:amd64 arm64:arm64v8
  return arch === 'x86_64' ? { ARCH: 'amd64', DOCKER_ARCH: 'amd64' } : { ARCH: 'arm64', DOCKER_ARCH: 'arm64v8' };
}

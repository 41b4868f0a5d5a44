import { afterAll, describe, expect, it } from 'vitest';
import { readBuildTags, writeBuildTags } from '../src/build/steps/share.js';
import { createStateStore, digestOf, stepRecord } from '../src/build/state.js';
import { scratchDirs } from './helpers/index.js';

// Records that are not steps keep their meaning across bro versions.

const dirs = scratchDirs();
afterAll(() => dirs.removeAll());

describe('the build tags record', () => {
  it('is read under its old id (grants:tags) too, and a write moves it to build-tags', async () => {
    const state = createStateStore(dirs.make('bro-state-'));
    const tags = { 'bro:variant': 'aws-k8s-1.18', 'bro:version': '1.0.4-hc1' };
    await state.put('grants:tags', stepRecord('done', digestOf({ tags }), { tags }, new Date()));
    expect(await readBuildTags(state)).toEqual(tags);

    await writeBuildTags(state, { ...tags, 'bro:version': '1.0.4-hc2' });
    const ids = Object.keys((await state.all()).steps);
    expect(ids).toEqual(['build-tags']);
    expect((await readBuildTags(state))?.['bro:version']).toBe('1.0.4-hc2');
  });
});

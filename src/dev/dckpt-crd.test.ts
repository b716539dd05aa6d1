import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dynamoCheckpointCrd } from './dckpt-crd.js';

const FILE = join(import.meta.dirname, '../../manifests/crds/dynamocheckpoint.yaml');

describe('manifests/crds/dynamocheckpoint.yaml', () => {
  it('is the CRD the dev cluster serves, field for field (regenerate it from dynamoCheckpointCrd() after a change)', async () => {
    expect(parse(await readFile(FILE, 'utf8'))).toEqual(dynamoCheckpointCrd());
  });
});

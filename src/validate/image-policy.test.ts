import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { DEFAULT_POLICY, checkImage, globToRegExp, imageRepository, loadImagePolicy, parseConfig } from './image-policy.js';

describe('imageRepository', () => {
  it.each([
    ['nvcr.io/nvidia/ai-dynamo/vllm-placeholder:1.0.0', 'nvcr.io/nvidia/ai-dynamo/vllm-placeholder', 'vllm-placeholder'],
    ['localhost:5000/placeholder', 'localhost:5000/placeholder', 'placeholder'],
    ['localhost:5000/x/vllm-runtime:1@sha256:abc', 'localhost:5000/x/vllm-runtime', 'vllm-runtime'],
    ['busybox', 'busybox', 'busybox'],
  ])('%s', (image, repository, name) => {
    expect(imageRepository(image)).toEqual({ repository, name });
  });
});

describe('globToRegExp', () => {
  it.each([
    ['registry.example.com/*-placeholder:*', 'registry.example.com/vllm-placeholder:1.0.0', true],
    ['registry.example.com/*-placeholder:*', 'registry.example.com/team/vllm-placeholder:1.0.0', false],
    ['registry.example.com/**', 'registry.example.com/team/vllm:1', true],
    ['img:1.?', 'img:1.2', true],
    ['img:1.?', 'img:1.23', false],
    ['a.b/c', 'aXb/c', false],
    ['a+b/(c)', 'a+b/(c)', true],
  ])('%s ~ %s = %s', (glob, image, match) => {
    expect(globToRegExp(glob).test(image)).toBe(match);
  });
});

describe('checkImage', () => {
  it('the default accepts a repository name containing "placeholder", not a tag', () => {
    expect(checkImage('nvcr.io/nvidia/ai-dynamo/vllm-placeholder:1.0.0', DEFAULT_POLICY, 'p')).toEqual({ allowed: true });
    expect(checkImage('my/sglang-placeholder@sha256:00', DEFAULT_POLICY, 'p')).toEqual({ allowed: true });
    expect(checkImage('my/vllm:placeholder', DEFAULT_POLICY, 'p').allowed).toBe(false);
  });

  it('a raw runtime image names the missing tools and the placeholder to use', () => {
    const v = checkImage('nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.0.0', DEFAULT_POLICY, 'spec.containers[0].image');
    expect(v).toEqual({
      allowed: false,
      runtime: true,
      message:
        'spec.containers[0].image "nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.0.0" is a raw runtime image: it lacks criu, cuda-checkpoint, nsrestore at /usr/local/bin/nsrestore, and sleep, which checkpoint and restore need; use its placeholder image (e.g. nvcr.io/nvidia/ai-dynamo/vllm-placeholder:1.0.0), or allow your own build in .snapshotctl.yaml placeholderImages',
    });
  });

  it('config patterns replace the default and may allow a runtime-named build', () => {
    const policy = { source: 'ci.yaml', patterns: ['mirror.local/**'] };
    expect(checkImage('mirror.local/ml/vllm-runtime:2', policy, 'p')).toEqual({ allowed: true });
    const v = checkImage('nvcr.io/nvidia/ai-dynamo/vllm-placeholder:1.0.0', policy, 'p');
    expect(v.allowed === false && v.message).toMatch(/is not allowed by the placeholderImages of ci\.yaml/);
  });
});

describe('parseConfig / loadImagePolicy', () => {
  it('reads placeholderImages; an empty file or key means the default', () => {
    expect(parseConfig('placeholderImages: ["a/*:*"]\n', 'f')).toEqual({ source: 'f', patterns: ['a/*:*'] });
    expect(parseConfig('', 'f')).toEqual({ source: 'f' });
    expect(parseConfig('placeholderImages:\n', 'f')).toEqual({ source: 'f' });
  });
  it.each([
    ['placeholderImages: "a"', /must be a list of non-empty strings/],
    ['placeholderImages: [1]', /must be a list of non-empty strings/],
    ['images: []', /unknown key "images"/],
    ['- a', /is not a mapping/],
    ['a: [', /is not valid YAML/],
  ])('%s is a usage error', (text, message) => {
    expect(() => parseConfig(text, 'f')).toThrow(UsageError);
    expect(() => parseConfig(text, 'f')).toThrow(message);
  });
  it('a missing default file is the default policy; a missing --config file is an error', async () => {
    const enoent = async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    };
    await expect(loadImagePolicy(undefined, enoent)).resolves.toBe(DEFAULT_POLICY);
    await expect(loadImagePolicy('x.yaml', enoent)).rejects.toThrow(/cannot read config "x\.yaml": no such file/);
  });
});

import { describe, expect, it } from 'vitest';
import { canonicalIdentityJson, type CheckpointIdentity, goJsonString, identitiesInObject, identityHash, parseIdentity } from './identity.js';

describe('identity hash (docs/protocol.md §8)', () => {
  it('reproduces vector 1 byte-exact', () => {
    const id = { model: 'meta-llama/Llama-2-7b-hf', backendFramework: 'vllm' };
    expect(canonicalIdentityJson(id)).toBe('{"model":"meta-llama/Llama-2-7b-hf","backendFramework":"vllm","tensorParallelSize":1,"pipelineParallelSize":1}');
    expect(identityHash(id)).toBe('96429b2725761a09');
  });

  it('reproduces vector 2 byte-exact', () => {
    const id = {
      model: 'meta-llama/Llama-2-13b-hf',
      backendFramework: 'sglang',
      dynamoVersion: '0.4.2',
      tensorParallelSize: 2,
      pipelineParallelSize: 1,
      dtype: 'float16',
      maxModelLen: 4096,
      extraParameters: { gpu_memory_utilization: '0.9' },
    };
    expect(canonicalIdentityJson(id)).toBe(
      '{"model":"meta-llama/Llama-2-13b-hf","backendFramework":"sglang","dynamoVersion":"0.4.2","tensorParallelSize":2,"pipelineParallelSize":1,"dtype":"float16","maxModelLen":4096,"extraParameters":{"gpu_memory_utilization":"0.9"}}',
    );
    expect(identityHash(id)).toBe('f4ba65bccbb8e4fb');
  });

  it.each<[Partial<CheckpointIdentity>, string]>([
    [{ tensorParallelSize: 0, pipelineParallelSize: 0 }, 'tp/pp 0 mean 1'],
    [{ tensorParallelSize: 1, pipelineParallelSize: 1 }, 'tp/pp 1 explicit'],
    [{ maxModelLen: 0 }, 'maxModelLen 0 is omitted'],
    [{ dtype: '', dynamoVersion: '' }, 'empty strings are omitted'],
    [{ extraParameters: {} }, 'empty extraParameters is omitted'],
  ])('defaults: %j hashes like vector 1 (%s)', (extra, _why) => {
    expect(identityHash({ model: 'meta-llama/Llama-2-7b-hf', backendFramework: 'vllm', ...extra })).toBe('96429b2725761a09');
  });

  it.each([
    ['a<b>c&d', '"a\\u003cb\\u003ec\\u0026d"'],
    ['line\u2028para\u2029', '"line\\u2028para\\u2029"'],
    ['quote " backslash \\', '"quote \\" backslash \\\\"'],
    ['\n\r\t\b\f', '"\\n\\r\\t\\b\\f"'],
    ['\u0001\u001f\u007f', '"\\u0001\\u001f\u007f"'],
    ['modèle/日本語', '"modèle/日本語"'],
    ['emoji 😀', '"emoji 😀"'],
    ['lone \ud800 surrogate', '"lone \\ufffd surrogate"'],
    ['/slash', '"/slash"'],
  ])('Go escaping of %j', (input, want) => {
    expect(goJsonString(input)).toBe(want);
  });

  it('sorts extraParameters keys bytewise (UTF-8), not by UTF-16 code units', () => {
    // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (F0 ...) bytewise; UTF-16 order is the other way.
    const json = canonicalIdentityJson({ model: 'm', backendFramework: 'vllm', extraParameters: { '😀': '1', '～': '2', b: '3', B: '4', a: '5' } });
    expect(json).toBe('{"model":"m","backendFramework":"vllm","tensorParallelSize":1,"pipelineParallelSize":1,"extraParameters":{"B":"4","a":"5","b":"3","～":"2","😀":"1"}}');
  });

  it('escapes keys and values of extraParameters and fields alike', () => {
    const json = canonicalIdentityJson({ model: 'a&b', backendFramework: 'vllm', dtype: '<x>', extraParameters: { 'k<': 'v>' } });
    expect(json).toBe('{"model":"a\\u0026b","backendFramework":"vllm","tensorParallelSize":1,"pipelineParallelSize":1,"dtype":"\\u003cx\\u003e","extraParameters":{"k\\u003c":"v\\u003e"}}');
  });
});

describe('parseIdentity', () => {
  it('reports every problem at once with rule and path', () => {
    const r = parseIdentity({ backendFramework: 'tgi', tensorParallelSize: -1, extraParameters: { x: 0.9 }, foo: 1 }, 'spec.identity');
    expect(r.identity).toBeUndefined();
    expect(r.findings.map((f) => `${f.rule} ${f.path}`)).toEqual([
      'HASH002 spec.identity.model',
      'HASH005 spec.identity.backendFramework',
      'HASH004 spec.identity.tensorParallelSize',
      'HASH003 spec.identity.extraParameters.x',
      'HASH007 spec.identity.foo',
    ]);
  });

  it('finds identities in a DynamoCheckpoint and in each DynamoGraphDeployment service', () => {
    const dckpt = identitiesInObject({ kind: 'DynamoCheckpoint', metadata: { name: 'c' }, spec: { identity: { model: 'meta-llama/Llama-2-7b-hf', backendFramework: 'vllm' } } });
    expect(dckpt.found.map((f) => [f.source, identityHash(f.identity)])).toEqual([['DynamoCheckpoint/c', '96429b2725761a09']]);
    const dgd = identitiesInObject({
      kind: 'DynamoGraphDeployment',
      metadata: { name: 'g' },
      spec: { services: { Frontend: {}, Worker: { checkpoint: { enabled: true, identity: { model: 'meta-llama/Llama-2-7b-hf', backendFramework: 'vllm' } } } } },
    });
    expect(dgd.findings).toEqual([]);
    expect(dgd.found.map((f) => f.source)).toEqual(['DynamoGraphDeployment/g/services/Worker']);
    expect(identitiesInObject({ kind: 'Pod' }).findings[0]?.rule).toBe('HASH010');
  });
});

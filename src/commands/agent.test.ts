import { describe, expect, it } from 'vitest';
import { UsageError, ValidationError } from '../errors.js';
import { complete, validate, type AgentCompleteContext, type RawAgentOptions } from './agent.js';

function ctx(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): AgentCompleteContext {
  return {
    env,
    readFile: async (p) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return text;
    },
  };
}

async function completed(raw: RawAgentOptions, c: AgentCompleteContext) {
  const opts = await complete(raw, c);
  validate(opts);
  return opts;
}

describe('agent complete/validate', () => {
  it('defaults: /etc/snapshot/config.yaml absent means the built-in config; NODE_NAME and POD_NAMESPACE from the environment', async () => {
    const opts = await completed({}, ctx({}, { NODE_NAME: 'gpu-1', POD_NAMESPACE: 'ml' }));
    expect(opts).toMatchObject({
      configPath: '/etc/snapshot/config.yaml',
      config: { source: undefined, basePath: '/checkpoints' },
      nodeName: 'gpu-1',
      namespace: 'ml',
      healthAddr: '0.0.0.0:8080',
      runtime: 'sim',
      shutdownGrace: '20s',
      logLevel: 'info',
    });
    expect(opts.kubeconfig).toBeUndefined();
    expect(opts.engine).toBeUndefined();
  });

  it('reads the default path when it exists, and flags win over the environment', async () => {
    const opts = await completed(
      { nodeName: 'gpu-2', namespace: 'other', logLevel: 'debug' },
      ctx({ '/etc/snapshot/config.yaml': 'storage:\n  basePath: /mnt/ckpt\n' }, { NODE_NAME: 'gpu-1', POD_NAMESPACE: 'ml', SNAPSHOT_LOG_LEVEL: 'warn' }),
    );
    expect([opts.config.source, opts.config.basePath, opts.nodeName, opts.namespace, opts.logLevel]).toEqual(['/etc/snapshot/config.yaml', '/mnt/ckpt', 'gpu-2', 'other', 'debug']);
  });

  it('a bad default file is still an error (exit 2)', async () => {
    const err = await complete({}, ctx({ '/etc/snapshot/config.yaml': 'storag: {}\n' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).findings[0]).toMatchObject({ rule: 'CFG002', path: 'storag' });
  });

  it.each<[string, RawAgentOptions, NodeJS.ProcessEnv, string]>([
    ['explicit --config missing', { config: '/x.yaml', nodeName: 'n' }, {}, '--config /x.yaml: no such file'],
    ['no node name', {}, {}, 'the agent needs its node name: pass --node-name or set NODE_NAME'],
    ['blank NODE_NAME', {}, { NODE_NAME: '  ' }, 'the agent needs its node name: pass --node-name or set NODE_NAME'],
    ['unknown engine', { nodeName: 'n', engine: 'gpu' }, {}, '--engine gpu: unknown engine'],
    ['unknown runtime', { nodeName: 'n', runtime: 'docker' }, {}, '--runtime docker: unknown runtime'],
    ['bad health address', { nodeName: 'n', healthAddr: '8080' }, {}, '--health-addr 8080: expected host:port (e.g. 0.0.0.0:8080 or 127.0.0.1:0) or off'],
    ['bad grace', { nodeName: 'n', shutdownGrace: '20' }, {}, '--shutdown-grace 20: expected a duration such as 20s or 1m'],
    ['bad log level', { nodeName: 'n' }, { SNAPSHOT_LOG_LEVEL: 'loud' }, 'log level loud: expected one of debug, info, warn, error'],
  ])('%s is a usage error', async (_name, raw, env, message) => {
    const err = await completed(raw, ctx({}, env)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as UsageError).message).toBe(message);
  });

  it('--health-addr off serves no probes', async () => {
    expect((await completed({ nodeName: 'n', healthAddr: 'off' }, ctx({}))).healthAddr).toBe('off');
  });
});

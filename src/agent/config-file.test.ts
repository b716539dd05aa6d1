import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { DEFAULT_BASE_PATH, knownConfigKeys, parseAgentConfig } from './config-file.js';

const FILE = '/etc/snapshot/config.yaml';

/** A config.yaml as Dynamo's v1.0.0 chart renders it (its default values). */
const DYNAMO_DEFAULT = `
storage:
  type: "pvc"
  basePath: "/checkpoints"
overlay:
  exclusions:
    - /proc
    - "*/__pycache__"
restore:
  nsRestorePath: "/usr/local/bin/nsrestore"
  restoreReadyTimeoutSeconds: 0
criu:
  binaryPath: "/usr/local/sbin/criu"
  ghostLimit: 536870912
  logLevel: 4
  workDir: "/var/criu-work"
  leaveRunning: true
  shellJob: true
  tcpClose: true
  tcpEstablished: false
  fileLocks: true
  orphanPtsMaster: true
  extUnixSk: true
  linkRemap: true
  extMasters: true
  manageCgroupsMode: "soft"
  rstSibling: true
  mntnsCompatMode: false
  evasiveDevices: true
  forceIrmap: true
  autoDedup: false
  lazyPages: false
  libDir: ""
  allowUprobes: true
  skipInFlight: true
`;

function findings(text: string): Array<{ rule: string; path: string; message: string }> {
  try {
    parseAgentConfig(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    const e = err as ValidationError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(FILE);
    return e.findings.map(({ rule, path, message }) => ({ rule, path, message }));
  }
  throw new Error('expected a ValidationError');
}

describe('parseAgentConfig', () => {
  it("loads Dynamo's default config.yaml unchanged and maps what the agent uses", () => {
    const c = parseAgentConfig(DYNAMO_DEFAULT, FILE);
    expect(c).toMatchObject({ source: FILE, basePath: '/checkpoints', restoreReadyTimeoutMs: 0, criuBinaryPath: '/usr/local/sbin/criu', criuLogLevel: 4 });
    // Every other key it sets is accepted and named as unused.
    expect(c.unused).toContain('criu.ghostLimit');
    expect(c.unused).toContain('overlay.exclusions');
    expect(c.unused).toContain('restore.nsRestorePath');
    expect(c.unused).not.toContain('storage.basePath');
    // Five keys used, and our own restore.allowCrossNamespace, which Dynamo's file lacks.
    expect(c.unused.length + 6).toBe(knownConfigKeys().length);
    expect(c.allowCrossNamespace).toBeUndefined();
  });

  it('restore.allowCrossNamespace (our key) must be a boolean; it is used, not reported as unused', () => {
    const c = parseAgentConfig('restore:\n  allowCrossNamespace: true\n', FILE);
    expect(c).toMatchObject({ allowCrossNamespace: true, unused: [] });
    expect(parseAgentConfig('restore:\n  allowCrossNamespace: false\n', FILE).allowCrossNamespace).toBe(false);
    expect(findings('restore:\n  allowCrossNamespace: "yes"\n')).toEqual([
      { rule: 'CFG003', path: 'restore.allowCrossNamespace', message: 'expected a boolean (true or false), got a string ("yes")' },
    ]);
  });

  it.each([
    ['an empty file', ''],
    ['only a comment', '# nothing here\n'],
    ['empty sections', 'storage:\ncriu:\n'],
  ])('%s gives the defaults', (_name, text) => {
    expect(parseAgentConfig(text, FILE)).toEqual({ source: FILE, basePath: DEFAULT_BASE_PATH, unused: [] });
  });

  it('drops a trailing slash of storage.basePath', () => {
    expect(parseAgentConfig('storage:\n  basePath: /mnt/ckpt/\n', FILE).basePath).toBe('/mnt/ckpt');
  });

  it('names an unknown key with its path, the keys known at that level and a near match', () => {
    expect(findings('storage:\n  basepath: /x\n')).toEqual([
      { rule: 'CFG002', path: 'storage.basepath', message: 'unknown key "storage.basepath"; did you mean "basePath"? known keys under storage: type, basePath' },
    ]);
    expect(findings('checkpoint:\n  x: 1\n')).toEqual([
      { rule: 'CFG002', path: 'checkpoint', message: 'unknown key "checkpoint"; known keys at the top level: storage, restore, overlay, criu' },
    ]);
    const [criu] = findings('criu:\n  logLvel: 2\n');
    expect(criu?.message).toMatch(/^unknown key "criu.logLvel"; did you mean "logLevel"\? known keys under criu: binaryPath, ghostLimit, logLevel, /);
  });

  it('names the key and the expected type of a wrong value, every problem at once', () => {
    expect(
      findings(
        [
          'storage:',
          '  type: s3',
          '  basePath: checkpoints',
          'restore:',
          '  restoreReadyTimeoutSeconds: "30"',
          'criu:',
          '  logLevel: 9',
          '  shellJob: "yes"',
          '  manageCgroupsMode: hard',
          'overlay:',
          '  exclusions: /proc',
        ].join('\n'),
      ),
    ).toEqual([
      { rule: 'CFG004', path: 'storage.type', message: '"s3" is not supported: expected one of pvc' },
      { rule: 'CFG004', path: 'storage.basePath', message: '"checkpoints" is not an absolute path' },
      { rule: 'CFG003', path: 'restore.restoreReadyTimeoutSeconds', message: 'expected an integer, got a string ("30")' },
      { rule: 'CFG004', path: 'criu.logLevel', message: '9 is out of range: expected an integer from 0 to 4' },
      { rule: 'CFG003', path: 'criu.shellJob', message: 'expected a boolean (true or false), got a string ("yes")' },
      { rule: 'CFG004', path: 'criu.manageCgroupsMode', message: '"hard" is not supported: expected one of ignore, soft, full, strict' },
      { rule: 'CFG003', path: 'overlay.exclusions', message: 'expected a list of strings, got a string ("/proc")' },
    ]);
  });

  it('refuses a section that is not a mapping, a top level that is not one, and broken YAML', () => {
    expect(findings('criu: true\n')).toEqual([{ rule: 'CFG003', path: 'criu', message: 'expected a mapping, got a boolean' }]);
    expect(findings('- storage\n')[0]).toMatchObject({ rule: 'CFG003', path: '' });
    expect(findings('storage: [\n')[0]).toMatchObject({ rule: 'CFG001', path: '' });
    expect(findings('storage:\n  basePath: /a\n  basePath: /b\n')[0]).toMatchObject({ rule: 'CFG001' });
  });
});

/**
 * The agent's config file, in the format of Dynamo's snapshot agent (`config.yaml` of
 * its ConfigMap, mounted at /etc/snapshot): sections `storage`, `restore`, `criu` and
 * `overlay`, with the keys of Dynamo's v1.0.0 chart. A file written for Dynamo's agent
 * loads here unchanged; keys this agent has no use for are accepted and named in the
 * start-up log. Unlike Dynamo's (Go YAML ignores unknown keys), an unknown key or a
 * wrong type is an error: a typo must not silently fall back to a default.
 */
import { isAbsolute } from 'node:path';
import { parseDocument } from 'yaml';
import { ValidationError, type Finding } from '../errors.js';
import { editDistance } from '../protocol/edit-distance.js';

/** Where the DaemonSet mounts the ConfigMap (`--config` default). */
export const DEFAULT_CONFIG_PATH = '/etc/snapshot/config.yaml';
/** `storage.basePath` default: the chart's and manifests/agent-daemonset.yaml's mount. */
export const DEFAULT_BASE_PATH = '/checkpoints';

/** Rule IDs of config findings. */
export const CONFIG_RULES = {
  syntax: 'CFG001',
  unknownKey: 'CFG002',
  wrongType: 'CFG003',
  badValue: 'CFG004',
} as const;

type Leaf =
  | { type: 'string' }
  | { type: 'path' }
  | { type: 'boolean' }
  | { type: 'integer'; min: number; max: number }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'strings' };

const bool: Leaf = { type: 'boolean' };
const str: Leaf = { type: 'string' };

/** Every key Dynamo's agent reads, by section. */
const SCHEMA: Record<string, Record<string, Leaf>> = {
  storage: {
    type: { type: 'enum', values: ['pvc'] },
    basePath: { type: 'path' },
  },
  restore: {
    nsRestorePath: str,
    restoreReadyTimeoutSeconds: { type: 'integer', min: 0, max: 2_147_483 },
    // Ours, not Dynamo's: restoring a checkpoint into another namespace than the one
    // that made it (a checkpoint holds the source worker's memory, secrets included).
    allowCrossNamespace: bool,
  },
  overlay: {
    exclusions: { type: 'strings' },
  },
  criu: {
    binaryPath: { type: 'path' },
    ghostLimit: { type: 'integer', min: 0, max: 4_294_967_295 },
    logLevel: { type: 'integer', min: 0, max: 4 },
    workDir: str,
    leaveRunning: bool,
    shellJob: bool,
    tcpClose: bool,
    tcpEstablished: bool,
    fileLocks: bool,
    orphanPtsMaster: bool,
    extUnixSk: bool,
    linkRemap: bool,
    extMasters: bool,
    manageCgroupsMode: { type: 'enum', values: ['ignore', 'soft', 'full', 'strict'] },
    rstSibling: bool,
    mntnsCompatMode: bool,
    evasiveDevices: bool,
    forceIrmap: bool,
    autoDedup: bool,
    lazyPages: bool,
    libDir: str,
    allowUprobes: bool,
    skipInFlight: bool,
  },
};

/** Keys this agent acts on; every other known key is accepted and reported as unused. */
const USED = new Set(['storage.type', 'storage.basePath', 'restore.restoreReadyTimeoutSeconds', 'restore.allowCrossNamespace', 'criu.binaryPath', 'criu.logLevel']);

/** The file's settings as the agent uses them. */
export interface AgentFileConfig {
  /** The file read, or undefined when the default path was absent (built-in defaults). */
  source: string | undefined;
  /** `storage.basePath`: where the checkpoint PVC is mounted in the agent's container. */
  basePath: string;
  /** `restore.restoreReadyTimeoutSeconds` in ms; 0 means no limit (Dynamo's meaning). */
  restoreReadyTimeoutMs?: number;
  /** `restore.allowCrossNamespace` (our key): restores from another namespace's checkpoints are allowed. */
  allowCrossNamespace?: boolean;
  /** `criu.binaryPath`: the criu the criu and cuda engines run. */
  criuBinaryPath?: string;
  /** `criu.logLevel`: criu's verbosity, 0-4. */
  criuLogLevel?: number;
  /** Keys set in the file that this agent accepts but does not act on, as `section.key`. */
  unused: string[];
}

/** Settings when there is no file. */
export function defaultFileConfig(): AgentFileConfig {
  return { source: undefined, basePath: DEFAULT_BASE_PATH, unused: [] };
}

/** The known keys, as `section.key` (for docs and tests). */
export function knownConfigKeys(): string[] {
  return Object.entries(SCHEMA).flatMap(([section, keys]) => Object.keys(keys).map((k) => `${section}.${k}`));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isMap(v)) return 'a mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  if (typeof v === 'string') return `a string (${JSON.stringify(v)})`;
  return `a ${typeof v}`;
}

function expected(leaf: Leaf): string {
  switch (leaf.type) {
    case 'string':
      return 'a string';
    case 'path':
      return 'an absolute path (string)';
    case 'boolean':
      return 'a boolean (true or false)';
    case 'integer':
      return `an integer from ${leaf.min} to ${leaf.max}`;
    case 'enum':
      return `one of ${leaf.values.join(', ')}`;
    case 'strings':
      return 'a list of strings';
  }
}

function suggestion(key: string, known: string[]): string {
  const near = known.find((k) => k.toLowerCase() === key.toLowerCase()) ?? known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return near ? `did you mean "${near}"? ` : '';
}

/** One leaf's problem, or undefined when the value fits. */
function checkLeaf(leaf: Leaf, v: unknown): { rule: string; message: string } | undefined {
  const wrongType = (what: string) => ({ rule: CONFIG_RULES.wrongType, message: `expected ${what}, got ${typeName(v)}` });
  switch (leaf.type) {
    case 'string':
      return typeof v === 'string' ? undefined : wrongType(expected(leaf));
    case 'path':
      if (typeof v !== 'string') return wrongType(expected(leaf));
      return isAbsolute(v) ? undefined : { rule: CONFIG_RULES.badValue, message: `${JSON.stringify(v)} is not an absolute path` };
    case 'boolean':
      return typeof v === 'boolean' ? undefined : wrongType(expected(leaf));
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) return wrongType('an integer');
      return v >= leaf.min && v <= leaf.max ? undefined : { rule: CONFIG_RULES.badValue, message: `${v} is out of range: expected ${expected(leaf)}` };
    case 'enum':
      if (typeof v !== 'string') return wrongType(`a string, ${expected(leaf)}`);
      return leaf.values.includes(v) ? undefined : { rule: CONFIG_RULES.badValue, message: `${JSON.stringify(v)} is not supported: expected ${expected(leaf)}` };
    case 'strings':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : wrongType(expected(leaf));
  }
}

/**
 * Parse and check a config file's text. Throws `ValidationError` (exit 2) with every
 * problem at once, each naming its key path; `file` names the file in the message.
 */
export function parseAgentConfig(text: string, file: string): AgentFileConfig {
  const findings: Finding[] = [];
  const add = (rule: string, path: string, message: string) => findings.push({ rule, severity: 'error', path, message, file });
  const fail = () =>
    new ValidationError(
      `${file}: the snapshot agent config is not valid (${findings.length} problem${findings.length === 1 ? '' : 's'})`,
      findings,
      `the file takes the keys of Dynamo's snapshot agent config.yaml: ${Object.keys(SCHEMA).join(', ')} (see \`snapshotctl agent --help\`)`,
    );

  const doc = parseDocument(text);
  for (const e of doc.errors) add(CONFIG_RULES.syntax, '', `not valid YAML: ${e.message.split('\n')[0] ?? e.message}`);
  if (findings.length > 0) throw fail();
  const root: unknown = doc.toJS();
  const config = defaultFileConfig();
  config.source = file;
  if (root === null || root === undefined) return config;
  if (!isMap(root)) {
    add(CONFIG_RULES.wrongType, '', `expected a mapping of sections (${Object.keys(SCHEMA).join(', ')}), got ${typeName(root)}`);
    throw fail();
  }

  const values = new Map<string, unknown>();
  const sections = Object.keys(SCHEMA);
  for (const [section, body] of Object.entries(root)) {
    const schema = SCHEMA[section];
    if (!schema) {
      add(CONFIG_RULES.unknownKey, section, `unknown key "${section}"; ${suggestion(section, sections)}known keys at the top level: ${sections.join(', ')}`);
      continue;
    }
    // `section:` with nothing under it is null in YAML: as in Go, nothing set.
    if (body === null) continue;
    if (!isMap(body)) {
      add(CONFIG_RULES.wrongType, section, `expected a mapping, got ${typeName(body)}`);
      continue;
    }
    const keys = Object.keys(schema);
    for (const [key, v] of Object.entries(body)) {
      const path = `${section}.${key}`;
      const leaf = schema[key];
      if (!leaf) {
        add(CONFIG_RULES.unknownKey, path, `unknown key "${path}"; ${suggestion(key, keys)}known keys under ${section}: ${keys.join(', ')}`);
        continue;
      }
      if (v === null) continue;
      const problem = checkLeaf(leaf, v);
      if (problem) add(problem.rule, path, problem.message);
      else values.set(path, v);
    }
  }
  if (findings.length > 0) throw fail();

  const basePath = values.get('storage.basePath');
  if (typeof basePath === 'string') config.basePath = basePath.length > 1 ? basePath.replace(/\/+$/, '') : basePath;
  const ready = values.get('restore.restoreReadyTimeoutSeconds');
  if (typeof ready === 'number') config.restoreReadyTimeoutMs = ready * 1000;
  const cross = values.get('restore.allowCrossNamespace');
  if (typeof cross === 'boolean') config.allowCrossNamespace = cross;
  const binary = values.get('criu.binaryPath');
  if (typeof binary === 'string') config.criuBinaryPath = binary;
  const level = values.get('criu.logLevel');
  if (typeof level === 'number') config.criuLogLevel = level;
  config.unused = [...values.keys()].filter((k) => !USED.has(k));
  return config;
}

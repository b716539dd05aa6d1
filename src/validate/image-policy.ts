/**
 * The placeholder-image policy: which images may run a checkpoint or restore. A
 * placeholder image is the runtime image plus criu, cuda-checkpoint, nsrestore and
 * sleep (docs/protocol.md §3); v1.0.x never checks, and a raw runtime image only fails at
 * restore time. Pure apart from `loadImagePolicy`, which reads through the caller's seam.
 */
import { parseYamlValue } from '../protocol/yaml-input.js';
import { UsageError } from '../errors.js';
import { NSRESTORE_PATH } from '../protocol/constants.js';
import { rec, show } from './util.js';

/** The project config file looked for in the current directory. */
export const CONFIG_FILE = '.snapshotctl.yaml';

export interface ImagePolicy {
  /** Where it came from: `default` or the config file's path. */
  source: string;
  /** Glob patterns from `placeholderImages`; undefined means the default rule. */
  patterns?: string[];
}

export const DEFAULT_POLICY: ImagePolicy = { source: 'default' };

/** What the policy says about one image. */
export type ImageVerdict = { allowed: true } | { allowed: false; runtime: boolean; message: string };

/** `registry/path/name:tag@digest` split into the repository and its last path segment. */
export function imageRepository(image: string): { repository: string; name: string } {
  const noDigest = image.split('@')[0] ?? image;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const repository = colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
  const name = repository.slice(repository.lastIndexOf('/') + 1);
  return { repository, name };
}

/**
 * A glob as a RegExp over the whole image reference: `*` any run of characters
 * except `/`, `**` any run including `/`, `?` one character except `/`; the rest literal.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Raw runtime images as published (`vllm-runtime`, `sglang-runtime`, `tensorrtllm-runtime`). */
function isRuntimeImage(name: string): boolean {
  return name.endsWith('-runtime');
}

const TOOLS = `criu, cuda-checkpoint, nsrestore at ${NSRESTORE_PATH}, and sleep`;

/** Judge one image; the message names the field path and the fix. */
export function checkImage(image: string, policy: ImagePolicy, path: string): ImageVerdict {
  const { name } = imageRepository(image);
  const allowed = policy.patterns ? policy.patterns.some((p) => globToRegExp(p).test(image)) : name.includes('placeholder');
  if (allowed) return { allowed: true };
  const where = policy.patterns ? `the placeholderImages of ${policy.source}` : `the default policy (a repository name containing "placeholder", as Dynamo publishes them)`;
  if (isRuntimeImage(name)) {
    const suggestion = image.replace(/-runtime(?=[:@]|$)/, '-placeholder');
    return {
      allowed: false,
      runtime: true,
      message: `${path} ${show(image)} is a raw runtime image: it lacks ${TOOLS}, which checkpoint and restore need; use its placeholder image (e.g. ${suggestion}), or allow your own build in ${CONFIG_FILE} placeholderImages`,
    };
  }
  return {
    allowed: false,
    runtime: false,
    message: `${path} ${show(image)} is not allowed by ${where}; use a placeholder image (the runtime image plus ${TOOLS}), add a pattern to placeholderImages in ${CONFIG_FILE}, or pass --skip-image-check`,
  };
}

/** Parse the config file text. Unknown keys and bad values are usage errors (exit 2). */
export function parseConfig(text: string, source: string): ImagePolicy {
  let value: unknown;
  try {
    value = parseYamlValue(text);
  } catch (err) {
    throw new UsageError(`config ${source} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, `fix ${source}, or pass --config with another file`);
  }
  if (value === null || value === undefined) return { source };
  const obj = rec(value);
  if (!obj) throw new UsageError(`config ${source} is not a mapping`, 'e.g. placeholderImages: ["registry.example.com/*-placeholder:*"]');
  for (const key of Object.keys(obj)) {
    if (key !== 'placeholderImages') {
      throw new UsageError(`config ${source} has an unknown key ${show(key)}`, 'the only key is placeholderImages (a list of image patterns)');
    }
  }
  const list = obj['placeholderImages'];
  if (list === undefined || list === null) return { source };
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || p === '')) {
    throw new UsageError(`config ${source}: placeholderImages must be a list of non-empty strings`, 'e.g. placeholderImages: ["registry.example.com/*-placeholder:*"]');
  }
  return { source, patterns: list as string[] };
}

/**
 * The policy for this run: `--config FILE` (must exist), else `.snapshotctl.yaml` in the
 * current directory when there is one, else the default.
 */
export async function loadImagePolicy(explicit: string | undefined, readFile: (path: string) => Promise<string>): Promise<ImagePolicy> {
  const path = explicit ?? CONFIG_FILE;
  let text: string;
  try {
    text = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (explicit === undefined && code === 'ENOENT') return DEFAULT_POLICY;
    throw new UsageError(`cannot read config "${path}": ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 'pass --config with the path of a .snapshotctl.yaml file');
  }
  return parseConfig(text, path);
}

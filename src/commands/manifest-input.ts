/** Reading and checking the `--manifest` input (a file or `-` for stdin). */
import { SnapshotError, UsageError, ValidationError, type Finding } from '../errors.js';
import { MAX_INPUT_BYTES, RULES, parsePodManifest, tooLargePhrase, type Pod } from '../protocol/index.js';
import { loadImagePolicy, loadSchemaValidator, runRules } from '../validate/index.js';
import type { CommandDeps } from './context.js';

/** What a reader throws for input over MAX_INPUT_BYTES (the CLI's file and stdin readers). */
export interface TooLargeError extends Error {
  code: 'EFBIG';
  /** The size, or at least how much was read before stopping. */
  bytes: number;
}

function isTooLarge(err: unknown): err is TooLargeError {
  return (err as { code?: unknown }).code === 'EFBIG' && typeof (err as { bytes?: unknown }).bytes === 'number';
}

/**
 * Read the manifest text; a missing, unreadable or oversized file is a usage error
 * (exit 2), refused before anything parses it.
 */
export async function readManifest(path: string, deps: Pick<CommandDeps, 'readFile' | 'readStdin'>): Promise<string> {
  const what = path === '-' ? 'the manifest on stdin' : `manifest "${path}"`;
  const hint = 'pass --manifest with the path of a Pod manifest, or - for stdin';
  let text: string;
  try {
    text = path === '-' ? await deps.readStdin() : await deps.readFile(path);
  } catch (err) {
    if (isTooLarge(err)) throw new UsageError(`${what} ${tooLargePhrase()}`, 'give the Pod manifest alone; a Pod that large could not be sent');
    if (path === '-' || err instanceof SnapshotError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new UsageError(`cannot read manifest "${path}": ${why}`, hint);
  }
  // Readers that do not bound what they read (test doubles) are checked here, still before parsing.
  if (text.length > MAX_INPUT_BYTES / 3 && Buffer.byteLength(text, 'utf8') > MAX_INPUT_BYTES) {
    throw new UsageError(`${what} ${tooLargePhrase()}`, 'give the Pod manifest alone; a Pod that large could not be sent');
  }
  return text;
}

/** Parse the manifest; every problem at once as a ValidationError (exit 2). */
export function parseManifestOrThrow(text: string, source: string, extra: (pod: Pod) => Finding[] = () => []): Pod {
  const { pod, findings } = parsePodManifest(text);
  const all = pod ? [...findings, ...extra(pod)] : findings;
  if (all.length > 0 || !pod) {
    throw new ValidationError(
      `manifest ${source} is not a usable worker Pod (${all.length} problem${all.length === 1 ? '' : 's'})`,
      all.map((f) => ({ ...f, file: source })),
      'fix the fields named above; `snapshotctl checkpoint --help` shows an example manifest',
    );
  }
  return pod;
}

/** How checkpoint/restore apply the `validate` rules to their manifest. */
export interface ManifestRuleOptions {
  /** `restore-manifest`: restore --manifest, where snapshotctl adds the §6 pieces itself. */
  purpose: 'checkpoint' | 'restore-manifest';
  /** --skip-image-check: no placeholder-image policy. */
  skipImageCheck: boolean;
  /** --config; else ./.snapshotctl.yaml when present. */
  config?: string;
}

/** The §3 rules that parsePodManifest and `extra` already ran. */
const CHECKED_BY_PARSE: ReadonlySet<string> = new Set(Object.values(RULES));

/**
 * parseManifestOrThrow plus every `validate` rule that is not lint-only, before any
 * request: errors (the image policy's included) fail at once with all findings;
 * warnings go to the reporter.
 */
export async function checkManifestOrThrow(
  text: string,
  source: string,
  extra: (pod: Pod) => Finding[],
  rules: ManifestRuleOptions,
  deps: Pick<CommandDeps, 'readFile' | 'reporter'>,
): Promise<Pod> {
  const { pod, findings, object } = parsePodManifest(text);
  const imagePolicy = rules.skipImageCheck ? undefined : await loadImagePolicy(rules.config, deps.readFile);
  const more = object
    ? runRules(
        object,
        {
          purpose: rules.purpose,
          inCommand: true,
          requireCommand: false,
          basePath: '/',
          schema: await loadSchemaValidator(),
          ...(imagePolicy ? { imagePolicy } : {}),
        },
        { skip: CHECKED_BY_PARSE },
      )
    : [];
  const errors = [...findings, ...(pod ? extra(pod) : []), ...more.filter((f) => f.severity === 'error')];
  for (const w of more.filter((f) => f.severity === 'warning')) deps.reporter.warn(`${w.rule} ${w.path ? `${w.path}: ` : ''}${w.message}`);
  if (errors.length > 0 || !pod) {
    const imageHint = errors.some((f) => f.rule === 'SNAP022' || f.rule === 'SNAP023') ? '; --skip-image-check accepts an image outside the policy' : '';
    throw new ValidationError(
      `manifest ${source} is not a usable worker Pod (${errors.length} problem${errors.length === 1 ? '' : 's'})`,
      errors.map((f) => ({ ...f, file: source })),
      `fix the fields named above; \`snapshotctl validate ${source === '-' ? '-' : source}\` lists every rule, \`snapshotctl checkpoint --help\` shows an example manifest${imageHint}`,
    );
  }
  return pod;
}

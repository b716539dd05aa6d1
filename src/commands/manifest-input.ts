/** Reading and checking the `--manifest` input (a file or `-` for stdin). */
import { SnapshotError, UsageError, ValidationError, type Finding } from '../errors.js';
import { MAX_INPUT_BYTES, RULES, checkIdFindings, parsePodManifest, tooLargePhrase, type Pod } from '../protocol/index.js';
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

/** Which flag named the input, for messages: `--manifest` (a Pod) unless said otherwise. */
export interface InputFlag {
  /** The flag, e.g. `--file`. */
  flag: string;
  /** What the input is called in messages: `manifest`, or the flag itself (`--file`). */
  noun: string;
  /** What the file must hold, e.g. `a DynamoCheckpoint or DynamoGraphDeployment`. */
  holds: string;
}

const MANIFEST_FLAG: InputFlag = { flag: '--manifest', noun: 'manifest', holds: 'a Pod manifest' };

/**
 * Read the manifest text; a missing, unreadable or oversized file is a usage error
 * (exit 2) naming the flag that gave it, refused before anything parses it.
 */
export async function readManifest(path: string, deps: Pick<CommandDeps, 'readFile' | 'readStdin'>, input: InputFlag = MANIFEST_FLAG): Promise<string> {
  const what = path === '-' ? `the ${input.noun} on stdin` : `${input.noun} "${path}"`;
  const hint = `pass ${input.flag} with the path of ${input.holds}, or - for stdin`;
  const largeHint = input === MANIFEST_FLAG ? 'give the Pod manifest alone; a Pod that large could not be sent' : `give ${input.holds} alone`;
  let text: string;
  try {
    text = path === '-' ? await deps.readStdin() : await deps.readFile(path);
  } catch (err) {
    if (isTooLarge(err)) throw new UsageError(`${what} ${tooLargePhrase()}`, largeHint);
    if (path === '-' || err instanceof SnapshotError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new UsageError(`cannot read ${what}: ${why}`, hint);
  }
  // Readers that do not bound what they read (test doubles) are checked here, still before parsing.
  if (text.length > MAX_INPUT_BYTES / 3 && Buffer.byteLength(text, 'utf8') > MAX_INPUT_BYTES) {
    throw new UsageError(`${what} ${tooLargePhrase()}`, largeHint);
  }
  return text;
}

/** Findings about `--checkpoint-id`, not the manifest (SNAP006 via the flag). */
function isIdFinding(f: Finding): boolean {
  return f.path === '--checkpoint-id';
}

/**
 * The error's first line: about the manifest, the checkpoint ID, or both, as the
 * findings are (a bad ID alone says nothing against a good manifest).
 */
function problemHeadline(source: string, findings: readonly Finding[]): string {
  const count = `(${findings.length} problem${findings.length === 1 ? '' : 's'})`;
  const aboutId = findings.some(isIdFinding);
  const aboutManifest = findings.length === 0 || findings.some((f) => !isIdFinding(f));
  if (aboutId && !aboutManifest) return `the checkpoint ID (--checkpoint-id) cannot be used ${count}`;
  if (aboutId) return `manifest ${source} is not a usable worker Pod, and the checkpoint ID (--checkpoint-id) cannot be used ${count}`;
  return `manifest ${source} is not a usable worker Pod ${count}`;
}

/** How to fix an ID, when the findings include one about it. */
const ID_HINT = 'a checkpoint ID is at most 63 characters of [A-Za-z0-9._-], a letter or digit at both ends, no `..`, e.g. --checkpoint-id llama-8b-v1';

/** How checkpoint/restore apply the `validate` rules to their manifest. */
export interface ManifestRuleOptions {
  /** `restore-manifest`: restore --manifest, where snapshotctl adds the §6 pieces itself. */
  purpose: 'checkpoint' | 'restore-manifest';
  /** --skip-image-check: no placeholder-image policy. */
  skipImageCheck: boolean;
  /** --config; else ./.snapshotctl.yaml when present. */
  config?: string;
  /**
   * --checkpoint-id: checked on its own, so its findings come out beside the
   * manifest's even when the manifest does not parse as a Pod.
   */
  checkpointId?: string;
}

/** The §3 rules that parsePodManifest and `extra` already ran. */
const CHECKED_BY_PARSE: ReadonlySet<string> = new Set(Object.values(RULES));

/**
 * The manifest parsed (every problem at once as a ValidationError, exit 2), then every
 * `validate` rule that is not lint-only, before any
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
  const idFindings = rules.checkpointId !== undefined ? checkIdFindings(rules.checkpointId) : [];
  const errors = [...findings, ...(pod ? extra(pod) : []), ...idFindings, ...more.filter((f) => f.severity === 'error')];
  for (const w of more.filter((f) => f.severity === 'warning')) deps.reporter.warn(`${w.rule} ${w.path ? `${w.path}: ` : ''}${w.message}`);
  if (errors.length > 0 || !pod) {
    const imageHint = errors.some((f) => f.rule === 'SNAP022' || f.rule === 'SNAP023') ? '; --skip-image-check accepts an image outside the policy' : '';
    const idHint = errors.some(isIdFinding) ? `; ${ID_HINT}` : '';
    const onlyId = errors.length > 0 && errors.every(isIdFinding);
    throw new ValidationError(
      problemHeadline(source, errors),
      errors.map((f) => ({ ...f, file: source })),
      onlyId
        ? ID_HINT
        : `fix the fields named above; \`snapshotctl validate ${source === '-' ? '-' : source}\` lists every rule, \`snapshotctl checkpoint --help\` shows an example manifest${imageHint}${idHint}`,
    );
  }
  return pod;
}

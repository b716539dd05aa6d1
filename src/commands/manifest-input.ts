/** Reading and checking the `--manifest` input (a file or `-` for stdin). */
import { UsageError, ValidationError, type Finding } from '../errors.js';
import { RULES, parsePodManifest, type Pod } from '../protocol/index.js';
import { loadImagePolicy, loadSchemaValidator, runRules } from '../validate/index.js';
import type { CommandDeps } from './context.js';

/** Read the manifest text; a missing or unreadable file is a usage error (exit 2). */
export async function readManifest(path: string, deps: Pick<CommandDeps, 'readFile' | 'readStdin'>): Promise<string> {
  if (path === '-') return deps.readStdin();
  try {
    return await deps.readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new UsageError(`cannot read manifest "${path}": ${why}`, 'pass --manifest with the path of a Pod manifest, or - for stdin');
  }
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

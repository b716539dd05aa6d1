/**
 * `snapshotctl validate`: judge worker and placeholder manifests offline, for CI. No
 * cluster, no network, no Kubernetes client: files (or stdin) in, a result out.
 */
import { EXIT, Interrupted, UsageError } from '../errors.js';
import { DEFAULT_BASE_PATH } from '../protocol/constants.js';
import { tooLargePhrase } from '../protocol/yaml-input.js';
import { assertBasePath, assertName } from './common-options.js';
import { judgeText, loadImagePolicy, loadSchemaValidator, type FileReport, type ImagePolicy, type Purpose } from '../validate/index.js';

export type ValidateFormat = 'text' | 'json' | 'sarif';
export type ValidateFor = 'checkpoint' | 'restore' | 'both';

const FORMATS: readonly ValidateFormat[] = ['text', 'json', 'sarif'];
const FORS: readonly ValidateFor[] = ['checkpoint', 'restore', 'both'];
const EXTENSIONS = ['.yaml', '.yml', '.json'];

/** What commander hands over. */
export interface RawValidateOptions {
  files?: string[];
  for?: string;
  output?: string;
  strict?: boolean;
  config?: string;
  checkpointId?: string;
  basePath?: string;
  pvc?: string;
  skipImageCheck?: boolean;
  disableCudaCheckpointJobFile?: boolean;
}

export interface ValidateOptions {
  inputs: string[];
  for: ValidateFor;
  output: ValidateFormat;
  strict: boolean;
  checkpointId?: string;
  basePath: string;
  pvc?: string;
  requireCommand: boolean;
  /** Undefined with --skip-image-check. */
  imagePolicy?: ImagePolicy;
}

/** File access; the CLI passes node:fs, tests may pass fakes. */
export interface ValidateDeps {
  readFile(path: string): Promise<string>;
  readStdin(): Promise<string>;
  /** Entries of a directory; throws ENOTDIR for a file. */
  readDir(path: string): Promise<Array<{ name: string; isDirectory: boolean }>>;
}

export interface ValidateSummary {
  files: number;
  documents: number;
  errors: number;
  warnings: number;
  skipped: number;
}

/** The result object (`-o json` prints it as is; docs/validation.md documents it). */
export interface ValidateResult {
  for: ValidateFor;
  strict: boolean;
  imagePolicy: { source: string; patterns?: string[] } | 'skipped';
  files: FileReport[];
  summary: ValidateSummary;
}

/** Parse flags and load the image policy. */
export async function complete(raw: RawValidateOptions, deps: Pick<ValidateDeps, 'readFile'>): Promise<ValidateOptions> {
  const output = (raw.output ?? 'text') as ValidateFormat;
  const target = (raw.for ?? 'checkpoint') as ValidateFor;
  const opts: ValidateOptions = {
    inputs: raw.files ?? [],
    for: target,
    output,
    strict: raw.strict === true,
    ...(raw.checkpointId !== undefined ? { checkpointId: raw.checkpointId } : {}),
    basePath: (raw.basePath ?? DEFAULT_BASE_PATH).replace(/(.)\/+$/, '$1'),
    ...(raw.pvc !== undefined ? { pvc: raw.pvc } : {}),
    requireCommand: raw.disableCudaCheckpointJobFile !== true,
  };
  validate(opts);
  if (raw.skipImageCheck !== true) opts.imagePolicy = await loadImagePolicy(raw.config, deps.readFile);
  return opts;
}

/** Pure flag checks; a bad flag is a UsageError (exit 2). */
export function validate(opts: ValidateOptions): void {
  if (!FORMATS.includes(opts.output)) throw new UsageError(`--output "${opts.output}" is not supported by validate`, `use one of: ${FORMATS.join(', ')}`);
  if (!FORS.includes(opts.for)) throw new UsageError(`--for "${opts.for}" is not supported`, `use one of: ${FORS.join(', ')}`);
  if (opts.inputs.length === 0) throw new UsageError('validate needs at least one FILE, DIR or -', 'e.g. snapshotctl validate manifests/ or cat pod.yaml | snapshotctl validate -');
  if (opts.inputs.filter((i) => i === '-').length > 1) throw new UsageError('stdin (-) can be given only once', 'pass - once');
  assertBasePath(opts.basePath);
  if (opts.pvc !== undefined) assertName('pvc', opts.pvc, '--pvc', '--pvc snapshot-pvc');
}

function purposesOf(target: ValidateFor): Purpose[] {
  return target === 'both' ? ['checkpoint', 'restore'] : [target];
}

/** Manifest files under a directory, recursively, sorted; dot entries and node_modules are skipped. */
async function walk(dir: string, deps: ValidateDeps): Promise<string[]> {
  const entries = [...(await deps.readDir(dir))].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const path = dir.endsWith('/') ? `${dir}${e.name}` : `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...(await walk(path, deps)));
    else if (EXTENSIONS.some((x) => e.name.endsWith(x))) out.push(path);
  }
  return out;
}

function unreadable(file: string, err: unknown): FileReport {
  const code = (err as NodeJS.ErrnoException).code;
  const bytes = (err as { bytes?: unknown }).bytes;
  const message =
    code === 'EFBIG' && typeof bytes === 'number'
      ? `${file === '-' ? 'stdin' : file} ${tooLargePhrase()}`
      : `cannot read ${file}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`;
  return {
    file,
    documents: 0,
    findings: [{ rule: 'SNAP007', severity: 'error', path: '', message, file, document: 0, line: 1, column: 1 }],
    skipped: [],
  };
}

/** One input resolved to text (or the error reading it), before judging. */
type Loaded = { file: string; explicit: boolean; text?: string; error?: unknown };

/** Read every input; directories expand to their manifest files. Reads run concurrently. */
async function load(inputs: string[], deps: ValidateDeps): Promise<Loaded[]> {
  const planned: Array<Loaded | Promise<Loaded>> = [];
  const read = (file: string, explicit: boolean): Promise<Loaded> =>
    deps.readFile(file).then(
      (text) => ({ file, explicit, text }),
      (error: unknown) => ({ file, explicit, error }),
    );
  for (const input of inputs) {
    if (input === '-') {
      planned.push(
        deps.readStdin().then(
          (text) => ({ file: '-', explicit: true, text }),
          (error: unknown) => ({ file: '-', explicit: true, error }),
        ),
      );
      continue;
    }
    let found: string[] | undefined;
    try {
      found = await walk(input, deps);
    } catch (err) {
      // Not a directory (or nothing there): read it as a file, which names the problem.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTDIR' && code !== 'ENOENT') {
        planned.push({ file: input, explicit: true, error: err });
        continue;
      }
    }
    if (found) planned.push(...found.map((file) => read(file, false)));
    else planned.push(read(input, true));
  }
  return Promise.all(planned);
}

/** Judge every input. Never prints; the CLI formats the result. */
export async function run(opts: ValidateOptions, deps: ValidateDeps): Promise<ValidateResult> {
  // The schema library's import overlaps with reading the files.
  const [schema, loaded] = await Promise.all([loadSchemaValidator(), load(opts.inputs, deps)]);
  // Ctrl-C during a read ends the run; other read errors are findings on their file.
  const interrupted = loaded.find((l) => l.error instanceof Interrupted);
  if (interrupted) throw interrupted.error;
  const judge = {
    purposes: purposesOf(opts.for),
    context: {
      requireCommand: opts.requireCommand,
      basePath: opts.basePath,
      inCommand: false,
      schema,
      ...(opts.checkpointId !== undefined ? { checkpointId: opts.checkpointId } : {}),
      ...(opts.pvc !== undefined ? { pvc: opts.pvc } : {}),
      ...(opts.imagePolicy ? { imagePolicy: opts.imagePolicy } : {}),
    },
  };
  const files = loaded.map((l) => (l.text !== undefined ? judgeText(l.text, l.file, { ...judge, explicit: l.explicit }) : unreadable(l.file, l.error)));
  const all = files.flatMap((f) => f.findings);
  return {
    for: opts.for,
    strict: opts.strict,
    imagePolicy: opts.imagePolicy ? { source: opts.imagePolicy.source, ...(opts.imagePolicy.patterns ? { patterns: opts.imagePolicy.patterns } : {}) } : 'skipped',
    files,
    summary: {
      files: files.length,
      documents: files.reduce((n, f) => n + f.documents, 0),
      errors: all.filter((f) => f.severity === 'error').length,
      warnings: all.filter((f) => f.severity === 'warning').length,
      skipped: files.reduce((n, f) => n + f.skipped.length, 0),
    },
  };
}

/** 0 clean, 1 warnings under --strict, 2 any error (docs/cli.md "validate (CI)"). */
export function exitCodeFor(result: ValidateResult): number {
  if (result.summary.errors > 0) return EXIT.usage;
  if (result.strict && result.summary.warnings > 0) return EXIT.failed;
  return EXIT.ok;
}

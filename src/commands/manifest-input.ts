/** Reading and checking the `--manifest` input (a file or `-` for stdin). */
import { UsageError, ValidationError, type Finding } from '../errors.js';
import { parsePodManifest, type Pod } from '../protocol/index.js';
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

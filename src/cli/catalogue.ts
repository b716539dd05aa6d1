/**
 * Entry for the catalogue commands: wires complete/validate/run of each and prints
 * the result through the output modules. Returns the exit code.
 */
import * as hash from '../commands/hash.js';
import type { CommandDeps } from '../commands/context.js';
import { EXIT } from '../errors.js';
import type { CatalogueCommandName } from './catalogue-program.js';
import { formatHash } from './catalogue-output.js';
import { completionRequest, completionScript } from './completion.js';
import { hasControls } from './terminal-text.js';

/** What the catalogue commands need from the process beyond `CommandDeps`. */
export interface CatalogueIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stdin is a terminal: `delete` may ask. */
  stdinIsTTY: boolean;
  /** Ask a question on the terminal; resolves to the answer line. */
  prompt?: (question: string) => Promise<string>;
  /** Colour allowed on stdout tables. */
  color: boolean;
}

/**
 * Cobra's ShellCompDirective for `candidates`, as kubectl's plugin completion reads it:
 * 4 (NoFileComp) when there are candidates, 0 (Default: the shell completes file names)
 * when there are none, as our own scripts do.
 */
export function cobraDirective(candidates: readonly string[]): number {
  return candidates.length > 0 ? 4 : 0;
}

/** Run one catalogue command; resolves to its exit code. */
export async function runCatalogue(
  name: CatalogueCommandName,
  raw: Record<string, unknown>,
  deps: CommandDeps,
  io: CatalogueIO,
): Promise<number> {
  switch (name) {
    case 'hash': {
      const opts = await hash.complete(raw, deps);
      hash.validate(opts);
      io.stdout(formatHash(hash.run(opts), opts.output));
      return EXIT.ok;
    }
    case 'completion':
      io.stdout(completionScript(String(raw['shell'] ?? '')));
      return EXIT.ok;
    case '__complete': {
      const { buildProgram } = await import('./program.js');
      const words = Array.isArray(raw['words']) ? (raw['words'] as unknown[]).map(String) : [];
      const req = completionRequest(buildProgram('0.0.0', async () => {}), words.length === 0 ? [''] : words);
      let candidates = req.kind === 'words' ? req.words : [];
      if (req.kind === 'lookup') {
        const { lookupCandidates } = await import('../commands/complete.js');
        const target = {
          ...(req.kubeconfig !== undefined ? { kubeconfig: req.kubeconfig } : typeof raw['kubeconfig'] === 'string' ? { kubeconfig: raw['kubeconfig'] } : {}),
          ...(req.context !== undefined ? { context: req.context } : {}),
          ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
        };
        // A name from the cluster with control characters would reach the shell's line editor raw.
        candidates = (await lookupCandidates(req.source, target, deps)).filter((c) => c.startsWith(req.prefix) && !hasControls(c));
      }
      io.stdout(candidates.map((c) => `${c}\n`).join(''));
      if (raw['cobra'] === true) io.stdout(`:${cobraDirective(candidates)}\n`);
      return EXIT.ok;
    }
    default: {
      const { runCatalogueCluster } = await import('./catalogue-cluster.js');
      return runCatalogueCluster(name, raw, deps, io);
    }
  }
}

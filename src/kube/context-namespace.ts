/**
 * The kubeconfig context's namespace without loading `@kubernetes/client-node`: commands
 * that need only this (an offline `--dry-run`) start in a tenth of the time. Same file
 * order as `config.ts`: `--kubeconfig`, else `KUBECONFIG` (first file that sets a value
 * wins), else `~/.kube/config`, else the in-cluster service account's namespace.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parse } from 'yaml';
import { SERVICE_ACCOUNT_DIR } from './config.js';

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Array<{ name?: string; context?: { namespace?: string } }>;
}

function readKubeconfig(path: string): KubeconfigFile | undefined {
  try {
    const doc: unknown = parse(readFileSync(path, 'utf8'));
    return typeof doc === 'object' && doc !== null ? (doc as KubeconfigFile) : undefined;
  } catch {
    return undefined;
  }
}

/** The namespace, or undefined when no configuration names one. Never throws. */
export function readContextNamespace(opts: { kubeconfig?: string; context?: string; env: Record<string, string | undefined> }): string | undefined {
  const files = opts.kubeconfig
    ? [opts.kubeconfig]
    : opts.env['KUBECONFIG']
      ? opts.env['KUBECONFIG'].split(delimiter).filter(Boolean)
      : [join(opts.env['HOME'] || homedir(), '.kube', 'config')];
  const configs = files.map(readKubeconfig).filter((c): c is KubeconfigFile => c !== undefined);
  if (configs.length === 0) {
    if (!opts.env['KUBERNETES_SERVICE_HOST']) return undefined;
    try {
      return readFileSync(join(SERVICE_ACCOUNT_DIR, 'namespace'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }
  const current = opts.context ?? configs.map((c) => c['current-context']).find(Boolean);
  if (!current) return undefined;
  for (const c of configs) {
    const ctx = c.contexts?.find((x) => x.name === current);
    if (ctx) return ctx.context?.namespace || undefined;
  }
  return undefined;
}

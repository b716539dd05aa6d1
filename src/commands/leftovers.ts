/**
 * What this run created and would still delete if it failed now. The entry reads it
 * when a second Ctrl-C cuts cleanup short, so even that path names each object left
 * behind and the `kubectl delete` that removes it, as every other failure path does.
 */
import type { CreatedObject } from './context.js';

type Named = Pick<CreatedObject, 'kind' | 'namespace' | 'name'>;

/** The objects a run is responsible for deleting on failure; in creation order. */
export class Leftovers {
  private readonly objects = new Map<string, Named>();

  /** This run created `obj` and deletes it if the run fails. */
  add(obj: Named): void {
    this.objects.set(keyOf(obj), { kind: obj.kind, namespace: obj.namespace, name: obj.name });
  }

  /** `obj` is gone, or is meant to stay (the run succeeded, `--keep-on-failure`). */
  remove(obj: Named): void {
    this.objects.delete(keyOf(obj));
  }

  list(): Named[] {
    return [...this.objects.values()];
  }
}

function keyOf(obj: Named): string {
  return `${obj.kind}/${obj.namespace}/${obj.name}`;
}

/** `job.batch/x`, `pod/x`, `dynamocheckpoint.nvidia.com/x`, as kubectl names them. */
export function qualifiedName(obj: Pick<CreatedObject, 'kind' | 'name'>): string {
  if (obj.kind === 'DynamoCheckpoint') return `dynamocheckpoint.nvidia.com/${obj.name}`;
  return obj.kind === 'Job' ? `job.batch/${obj.name}` : `pod/${obj.name}`;
}

/** The command that removes `obj` (the Job in the foreground, so its pod goes first). */
export function deleteCommand(obj: Named): string {
  switch (obj.kind) {
    case 'Job':
      return `kubectl delete job ${obj.name} -n ${obj.namespace} --cascade=foreground`;
    case 'DynamoCheckpoint':
      return `kubectl delete dynamocheckpoint ${obj.name} -n ${obj.namespace}`;
    case 'Pod':
      return `kubectl delete pod ${obj.name} -n ${obj.namespace}`;
  }
}

/** One line per object: `left behind: job.batch/x in namespace "ml"; delete it with: kubectl delete ...`. */
export function leftBehindLines(objs: Named[]): string[] {
  return objs.map((o) => `left behind: ${qualifiedName(o)} in namespace "${o.namespace}"; delete it with: ${deleteCommand(o)}`);
}

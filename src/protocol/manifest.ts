/**
 * Parsing and checking a worker Pod manifest (§3). Pure: the caller reads the file.
 * Every problem is reported at once, each with a rule ID and a field path.
 */
import { isScalar } from 'yaml';
import type { Finding } from '../errors.js';
import { CHECKPOINT_JOB_SUFFIX } from './constants.js';
import { checkCheckpointId } from './ids.js';
import { checkDnsLabel } from './names.js';
import { YamlLimitError, documentValue, parseYamlDocuments, yamlErrorMessage } from './yaml-input.js';
import type { Pod } from './types.js';

/** Stable rule IDs shared with `validate` (docs/validation.md lists them). */
export const RULES = {
  containerCount: 'SNAP001',
  kind: 'SNAP002',
  name: 'SNAP003',
  image: 'SNAP004',
  command: 'SNAP005',
  checkpointId: 'SNAP006',
  document: 'SNAP007',
  nameLength: 'SNAP008',
} as const;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** Job names become a label value (`batch.kubernetes.io/job-name`): at most 63. */
const MAX_JOB_NAME = 63;

export interface ParsedManifest {
  pod: Pod | undefined;
  findings: Finding[];
  /** The parsed object, also when it has findings (more rules can judge it: src/validate). */
  object?: Record<string, unknown>;
}

function finding(rule: string, path: string, message: string): Finding {
  return { rule, severity: 'error', path, message };
}

/** Parse YAML or JSON text holding one Pod. `pod` is set only when there are no errors. */
export function parsePodManifest(text: string): ParsedManifest {
  let docs;
  try {
    docs = parseYamlDocuments(text);
  } catch (err) {
    const message = err instanceof YamlLimitError ? `the manifest ${err.phrase}` : `not YAML or JSON: ${(err as Error).message}`;
    return { pod: undefined, findings: [finding(RULES.document, '', message)] };
  }
  // A trailing `---` yields a document whose contents are a null scalar: not a document.
  const nonEmpty = docs.filter(
    (d) => d.errors.length > 0 || (d.contents !== null && !(isScalar(d.contents) && d.contents.value === null)),
  );
  const first = nonEmpty[0];
  if (!first) return { pod: undefined, findings: [finding(RULES.document, '', 'the manifest is empty; give one Pod')] };
  if (first.errors.length > 0) {
    const e = first.errors[0]!;
    return { pod: undefined, findings: [finding(RULES.document, '', `not valid YAML: ${yamlErrorMessage(e)}`)] };
  }
  if (nonEmpty.length > 1) {
    return {
      pod: undefined,
      findings: [finding(RULES.document, '', `the manifest holds ${nonEmpty.length} documents; give exactly one Pod`)],
    };
  }
  let value: unknown;
  try {
    value = documentValue(first);
  } catch (err) {
    // Parsing succeeded but building the value did not: an alias to an anchor that
    // does not exist, or one that expands too far (yaml's maxAliasCount).
    const message = err instanceof YamlLimitError ? `the manifest ${err.phrase}` : `not valid YAML: ${(err as Error).message}`;
    return { pod: undefined, findings: [finding(RULES.document, '', message)] };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { pod: undefined, findings: [finding(RULES.document, '', 'the manifest is not an object; give one Pod')] };
  }
  const findings = checkPodObject(value as Record<string, unknown>);
  return { pod: findings.length === 0 ? (value as Pod) : undefined, findings, object: value as Record<string, unknown> };
}

/** Options that change what the manifest must hold. */
export interface ManifestCheckOptions {
  /** cuda-checkpoint wrapping on: the container needs a command. */
  requireCommand?: boolean;
  checkpointId?: string;
}

/** §3 rules on an object that claims to be a Pod. */
export function checkPodObject(obj: Record<string, unknown>): Finding[] {
  const findings: Finding[] = [];
  const kind = obj['kind'];
  // `kind:` with no value is YAML null, which Go decodes as "": the same as no kind.
  if (kind !== undefined && kind !== null && kind !== '' && kind !== 'Pod') {
    findings.push(
      finding(
        RULES.kind,
        'kind',
        `kind is ${JSON.stringify(kind)}; snapshotctl takes a Pod manifest (copy the pod template of your ${String(kind)} into a kind: Pod manifest)`,
      ),
    );
    return findings;
  }
  const metadata = asRecord(obj['metadata']);
  const name = metadata?.['name'];
  if (typeof name !== 'string' || name === '') {
    findings.push(finding(RULES.name, 'metadata.name', 'metadata.name is required; give the pod a name'));
  } else if (!DNS_SUBDOMAIN.test(name)) {
    findings.push(
      finding(RULES.name, 'metadata.name', `metadata.name ${JSON.stringify(name)} is not a valid name: use lower-case letters, digits, '-' and '.'`),
    );
  } else if (name.length + CHECKPOINT_JOB_SUFFIX.length > MAX_JOB_NAME) {
    findings.push(
      finding(
        RULES.nameLength,
        'metadata.name',
        `metadata.name is ${name.length} characters; the checkpoint Job "${name}${CHECKPOINT_JOB_SUFFIX}" would exceed ${MAX_JOB_NAME}: shorten the name to at most ${MAX_JOB_NAME - CHECKPOINT_JOB_SUFFIX.length}`,
      ),
    );
  }
  // The namespace goes into the request URL; the API server refuses a bad one only after
  // snapshotctl has looked things up there, and `../x` would change the URL itself.
  const namespace = metadata?.['namespace'];
  if (typeof namespace === 'string' && namespace !== '') {
    const problems = checkDnsLabel(namespace);
    if (problems.length > 0) {
      findings.push(finding(RULES.name, 'metadata.namespace', `metadata.namespace ${JSON.stringify(namespace)} is not a valid namespace: it ${problems.join(', ')}`));
    }
  }
  const spec = asRecord(obj['spec']);
  for (const list of ['containers', 'initContainers'] as const) {
    const entries = spec?.[list];
    if (!Array.isArray(entries)) continue;
    entries.forEach((c: unknown, i) => {
      const cname = asRecord(c)?.['name'];
      if (typeof cname !== 'string' || cname === '') return;
      const problems = checkDnsLabel(cname);
      if (problems.length > 0) {
        findings.push(finding(RULES.name, `spec.${list}[${i}].name`, `spec.${list}[${i}].name ${JSON.stringify(cname)} is not a valid container name: it ${problems.join(', ')}`));
      }
    });
  }
  const containers = spec?.['containers'];
  if (!Array.isArray(containers) || containers.length !== 1) {
    const count = Array.isArray(containers) ? containers.length : 0;
    findings.push(
      finding(
        RULES.containerCount,
        'spec.containers',
        `spec.containers has ${count} entries; exactly one worker container is required (move sidecars out, or disable their injection)`,
      ),
    );
    return findings;
  }
  const container = asRecord(containers[0]);
  const image = container?.['image'];
  if (typeof image !== 'string' || image.trim() === '') {
    findings.push(finding(RULES.image, 'spec.containers[0].image', 'spec.containers[0].image is required; use your placeholder image'));
  }
  return findings;
}

/** Rules that depend on the command's options (wrapping, checkpoint ID). */
export function checkForCheckpoint(pod: Pod, opts: ManifestCheckOptions): Finding[] {
  const findings: Finding[] = [];
  const command = pod.spec.containers[0]?.command;
  if (opts.requireCommand && (!command || command.length === 0)) {
    findings.push(
      finding(
        RULES.command,
        'spec.containers[0].command',
        'spec.containers[0].command is empty but cuda-checkpoint wrapping is on: set the worker command explicitly, or pass --disable-cuda-checkpoint-job-file (needed anyway with the public cuda-checkpoint 580.x, which lacks --launch-job)',
      ),
    );
  }
  if (opts.checkpointId !== undefined) findings.push(...checkIdFindings(opts.checkpointId));
  return findings;
}

/** Checkpoint ID problems as findings on the `--checkpoint-id` flag. */
export function checkIdFindings(id: string): Finding[] {
  return checkCheckpointId(id).map((problem) =>
    finding(RULES.checkpointId, '--checkpoint-id', `checkpoint ID ${JSON.stringify(id)} ${problem}`),
  );
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

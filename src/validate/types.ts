/** The shapes shared by the validation rules, the runner and the commands. */
import type { Finding } from '../errors.js';
import type { ImagePolicy } from './image-policy.js';
import type { SchemaValidator } from './schema.js';

/**
 * What the manifest is for. `checkpoint`: a worker Pod for `checkpoint --manifest`.
 * `restore`: a placeholder Pod that will be restored in place (`restore --pod`, §6).
 * `restore-manifest`: a worker Pod that `restore --manifest` turns into a restore pod
 * (§5); snapshotctl adds the volume, mount, seccomp and command itself, so the §6
 * preconditions do not apply. `validate --for` offers the first two.
 */
export type Purpose = 'checkpoint' | 'restore' | 'restore-manifest';

export type Severity = Finding['severity'];

/** Everything a rule may depend on besides the object itself. */
export interface RuleContext {
  purpose: Purpose;
  /** cuda-checkpoint wrapping on: the worker needs a command (SNAP005). */
  requireCommand: boolean;
  /** `--checkpoint-id`, when given. */
  checkpointId?: string;
  /** Where the agent mounts the checkpoint PVC (restore preconditions). */
  basePath: string;
  /** The checkpoint PVC, when known (`--pvc`); any claim is accepted otherwise. */
  pvc?: string;
  /** Undefined: the image check is off (`--skip-image-check`). */
  imagePolicy?: ImagePolicy;
  /** Undefined: no schema check (the library is loaded lazily by the caller). */
  schema?: SchemaValidator;
  /** Inside checkpoint/restore: lint-only rules are skipped. */
  inCommand: boolean;
}

/** A rule's verdict on one spot: the runner adds the rule ID and severity. */
export interface RuleHit {
  path: string;
  message: string;
}

/** One entry of the registry (docs/validation.md "Validation rules" lists them all). */
export interface Rule {
  id: string;
  severity: Severity;
  /** One line, shown in SARIF rule metadata and docs/validation.md. */
  title: string;
  /** What to do about it, in general terms (SARIF `help`). */
  fix: string;
  /** Purposes the rule applies to. */
  purposes: readonly Purpose[];
  /**
   * Only in `validate`: the rule is about the cluster around the pod (namespace-wide
   * mesh injection, GPU placement that snapshotctl's agent affinity adds), so repeating
   * it on every checkpoint/restore run would be noise.
   */
  lintOnly?: boolean;
  check(obj: Record<string, unknown>, ctx: RuleContext): RuleHit[];
}

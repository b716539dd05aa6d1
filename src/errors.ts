/**
 * Typed errors. Everything below `src/cli` throws one of these; only the CLI entry
 * maps them to exit codes (docs/cli.md "Exit codes") and prints them.
 */

/** Exit codes documented in the README and docs/cli.md. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  cluster: 3,
  timeout: 4,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Base class: a message for humans plus the exit code it maps to. */
export abstract class SnapshotError extends Error {
  abstract readonly exitCode: ExitCode;
  /** Optional next step, printed after the message ("hint: ..."). */
  readonly hint: string | undefined;
  /** The result object of a run that got far enough to have one (printed on stdout). */
  result: unknown;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** One problem found in user input, with a stable rule id and the field it concerns. */
export interface Finding {
  rule: string;
  severity: 'error' | 'warning';
  /** Field path such as `spec.containers[0].image`; empty for the whole object. */
  path: string;
  message: string;
  file?: string;
}

/** Bad flag or argument; nothing was sent. Exit 2. */
export class UsageError extends SnapshotError {
  readonly exitCode = EXIT.usage;
}

/** Bad manifest or checkpoint ID: every finding at once; nothing was sent. Exit 2. */
export class ValidationError extends SnapshotError {
  readonly exitCode = EXIT.usage;
  readonly findings: Finding[];
  constructor(message: string, findings: Finding[], hint?: string) {
    super(message, hint);
    this.findings = findings;
  }
}

/** The cluster refused or could not be reached, or storage/agent not found. Exit 3. */
export class ClusterError extends SnapshotError {
  readonly exitCode = EXIT.cluster;
  /** HTTP status when the error came from the API server. */
  readonly status: number | undefined;
  /** Node error code when no answer came (`ECONNREFUSED`, `ETIMEDOUT`, ...). */
  readonly code: string | undefined;
  constructor(message: string, hint?: string, status?: number, code?: string) {
    super(message, hint);
    this.status = status;
    this.code = code;
  }
}

/**
 * This machine lacks something the command needs and the user can provide: a free
 * port, CRIU, a GPU. The message says what, the hint how to fix it. Exit 3, like the
 * other "the surroundings are not ready" errors.
 */
export class EnvironmentError extends SnapshotError {
  readonly exitCode = EXIT.cluster;
}

/** The wait ran past --timeout. Exit 4. */
export class TimeoutError extends SnapshotError {
  readonly exitCode = EXIT.timeout;
}

/** The checkpoint or restore itself failed (agent verdict, pod failed). Exit 1. */
export class OperationFailed extends SnapshotError {
  readonly exitCode = EXIT.failed;
}

/** SIGINT / SIGTERM arrived; cleanup ran. Exit 130. */
export class Interrupted extends SnapshotError {
  readonly exitCode = EXIT.interrupted;
}

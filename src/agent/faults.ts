/**
 * Fault switches of one agent, for tests and for trying the CLI's failure paths by
 * hand. Plain mutable fields so a test, a debugger or a dev-server endpoint can flip
 * them; the agent reads them at the start of each operation.
 */

/** The switches. All off by default. */
export interface AgentFaults {
  /** The next N operations (checkpoint or restore) end with verdict `failed`. */
  failNext: number;
  /** Every operation ends with verdict `failed` while true. */
  failAll: boolean;
  /** Text of the injected failure (event message). */
  failMessage: string;
  /** While true the agent never answers: no lease, no event, no annotation. */
  silent: boolean;
  /** Wait this long (ms) before writing each verdict. */
  delayMs: number;
}

/** Default text of an injected failure. */
export const INJECTED_FAILURE = 'failure injected by the agent fault switch';

/** Switches with everything off. */
export function createFaults(): AgentFaults {
  return { failNext: 0, failAll: false, failMessage: INJECTED_FAILURE, silent: false, delayMs: 0 };
}

/** Turn every switch off. */
export function resetFaults(f: AgentFaults): void {
  Object.assign(f, createFaults());
}

/** Consume one injected failure, if any is armed: the message to fail with. */
export function takeInjectedFailure(f: AgentFaults): string | undefined {
  if (f.failAll) return f.failMessage;
  if (f.failNext > 0) {
    f.failNext -= 1;
    return f.failMessage;
  }
  return undefined;
}

/**
 * Commander wiring of `preflight`: flags, help and examples only. Imports nothing from
 * the command itself, so `--help` loads no Kubernetes client.
 */
import { Command, Option } from 'commander';

const PREFLIGHT_EXAMPLES = `
Checks, each reported on stderr (✓ pass, ! warning, ✗ fail, - skipped):
  manifest  the rules checkpoint applies before sending anything (offline)
  rbac      a SelfSubjectAccessReview for every verb checkpoint and restore use
  storage   the checkpoint PVC and base path, from the agent DaemonSet
  pvc       the checkpoint PVC exists and is Bound
  agent     the agent DaemonSet's desired vs ready pods, and their nodes
  seccomp   a probe pod with the checkpoint pods' Localhost profile starts on an agent node
  image     the probe finds criu, cuda-checkpoint (--launch-job), /usr/local/bin/nsrestore
            and sleep in the manifest's image; the probe pod is always deleted

Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 bad flags or
an unreadable manifest file, 3 the cluster could not be reached or refused the
preflight's own reads, 130 interrupted.

Examples:
  # Before the first checkpoint on a cluster
  snapshotctl preflight --manifest worker.yaml -n ml

  # Probe on one node; JSON report for scripts
  snapshotctl preflight --manifest worker.yaml --node gpu-3 -o json

  # Cluster checks only, no probe pod
  snapshotctl preflight --manifest worker.yaml --skip-probe

  # Probe an image outside the placeholder-image policy (.snapshotctl.yaml) anyway
  snapshotctl preflight --manifest raw-runtime.yaml --skip-image-check
`;

type Handler = (name: 'preflight', raw: Record<string, unknown>) => Promise<void>;

/** Add `preflight` to `program`. */
export function addPreflightCommand(program: Command, onAction: Handler): void {
  program
    .command('preflight')
    .description('check that checkpoint and restore of a worker manifest will work on this cluster (storage, agent, RBAC, a probe pod with its image)')
    .option('--manifest <file>', 'worker Pod manifest you will checkpoint (YAML or JSON), - for stdin')
    .option('-n, --namespace <namespace>', 'namespace (default: the manifest\'s, else the kubeconfig context\'s, else "default")')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--kube-context <name>', 'kubeconfig context to use')
    .addOption(new Option('--context <name>', 'alias of --kube-context'))
    .option('-o, --output <format>', 'result on stdout: kv, json or yaml', 'kv')
    .option('--timeout <duration>', 'how long the probe pod may take, image pull included (default: 120s)')
    .option('--node <name>', 'run the probe on this node (must have a Ready snapshot agent)')
    .option('--skip-probe', 'no probe pod: skip the seccomp and image checks')
    .option('--skip-image-check', 'do not apply the placeholder-image policy (.snapshotctl.yaml) to the manifest')
    .option('--config <file>', 'project config with the placeholder-image policy (default: ./.snapshotctl.yaml when present)')
    .option('--disable-cuda-checkpoint-job-file', 'you will checkpoint with this flag: no command needed, no --launch-job needed')
    .option('-q, --quiet', 'no progress output; only failed and warned checks on stderr')
    .option('-v, --verbose', 'print each API call on stderr')
    .option('--no-color', 'no colour or spinner')
    .addHelpText('after', PREFLIGHT_EXAMPLES)
    .action(async (raw: Record<string, unknown>) => onAction('preflight', raw));
}

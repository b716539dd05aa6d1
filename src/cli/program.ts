/**
 * Commander wiring of every verb: flags, help and examples, in one tree. Actions only
 * hand the verb's name and raw options to the `onAction` callback; the entry point
 * runs it through the dispatch table (verbs.ts). Imports no command code, so `--help`
 * loads no Kubernetes client.
 */
import { Command, Option } from 'commander';
import { DEFAULT_RUNTIME, runtimeNames } from '../agent/runtimes.js';

/** Every verb's name as commander's action reports it (`dev up`: the group and its verb). The dispatch table (verbs.ts) has one entry each. */
export type CommandName =
  | 'checkpoint'
  | 'restore'
  | 'validate'
  | 'preflight'
  | 'agent'
  | 'demo'
  | 'dev up'
  | 'dev serve'
  | 'dev status'
  | 'dev down'
  | 'list'
  | 'describe'
  | 'delete'
  | 'prune'
  | 'hash'
  | 'completion'
  | '__complete';
export type ActionHandler = (name: CommandName, raw: Record<string, unknown>) => Promise<void>;

const CHECKPOINT_EXAMPLES = `
Manifest: one Pod, one container with a placeholder image (your runtime image plus
criu, cuda-checkpoint, nsrestore and sleep), an explicit command, and a readiness probe
meaning "warmed up": the agent checkpoints the worker as soon as it is Ready.
(manifests/samples/worker.yaml, abridged; \`snapshotctl validate FILE\` checks yours.)

  apiVersion: v1
  kind: Pod
  metadata:
    name: vllm-worker
  spec:
    containers:
      - name: worker
        image: nvcr.io/nvidia/ai-dynamo/vllm-placeholder:1.0.0
        command: [python3, -m, dynamo.vllm]
        args: [--model, Qwen/Qwen3-0.6B]
        env:
          - {name: DYN_READY_FOR_CHECKPOINT_FILE, value: /tmp/ready-for-checkpoint}
        readinessProbe:
          exec: {command: [cat, /tmp/ready-for-checkpoint]}
        resources:
          limits: {nvidia.com/gpu: "1"}

Examples:
  # Checkpoint a warmed-up worker; prints key=value lines as Dynamo v1.0.x does
  snapshotctl checkpoint --manifest worker.yaml -n ml

  # Choose the ID, wait at most 20 minutes, JSON result for scripts
  snapshotctl checkpoint --manifest worker.yaml --checkpoint-id llama-8b-v1 --timeout 20m -o json

  # Print the exact Job without any cluster
  snapshotctl checkpoint --manifest worker.yaml --checkpoint-id llama-8b-v1 \\
    --dry-run -o json --pvc snapshot-pvc --base-path /checkpoints

  # NVIDIA's public cuda-checkpoint 580.x has no --launch-job: turn the wrapping off
  snapshotctl checkpoint --manifest worker.yaml --disable-cuda-checkpoint-job-file

  # An earlier run was killed mid-wait: wait on the Job it left
  snapshotctl checkpoint --manifest worker.yaml -n ml --resume

  # v1.0.x spellings keep working
  snapshotctl checkpoint -manifest worker.yaml -namespace ml -timeout 1h30m

  # Through a DynamoCheckpoint (Dynamo's operator): reused at once when one with the
  # same identity hash is Ready, else created and awaited until Ready
  snapshotctl checkpoint --identity qwen3-checkpoint.yaml -n ml
  snapshotctl checkpoint --model Qwen/Qwen3-0.6B --backend-framework vllm --dtype bfloat16 \\
    --max-model-len 2048 --manifest worker.yaml -n ml
`;

const RESTORE_EXAMPLES = `
Examples:
  # Create a new pod from the manifest and restore the checkpoint into it
  snapshotctl restore --manifest worker.yaml --checkpoint-id llama-8b-v1 -n ml

  # Restore into an existing placeholder pod (manifests/samples/placeholder.yaml)
  snapshotctl restore --pod vllm-placeholder --checkpoint-id llama-8b-v1 -n ml

  # Show the pod as it would be after the in-place patch, and the patch itself
  snapshotctl restore --pod vllm-placeholder --checkpoint-id llama-8b-v1 --dry-run -o yaml --verbose

  # Let the API server judge the restore pod without creating it
  snapshotctl restore --manifest worker.yaml --checkpoint-id llama-8b-v1 --dry-run=server
`;

const AGENT_HELP = `
Config file: Dynamo's snapshot agent config.yaml (its ConfigMap, mounted at /etc/snapshot).
Used here: storage.basePath (where the checkpoint PVC is mounted, default /checkpoints),
storage.type (pvc), restore.restoreReadyTimeoutSeconds (0: no limit), criu.binaryPath and
criu.logLevel (criu and cuda engines). Dynamo's other keys (restore.nsRestorePath,
overlay.exclusions, the other criu.* options) are accepted and listed at start-up as
unused. An unknown key or a wrong type is an error naming the key (exit 2); a missing
default file means the defaults, a missing --config file is an error.

Probes: GET /healthz (the process and its event loop) and GET /readyz (pod informers
synced and the API server answering) on --health-addr: 200 or 503 with a one-line reason.

On SIGTERM/SIGINT: no new work; an operation in flight gets --shutdown-grace to finish,
then it is failed with the reason (Job or pod annotated failed, a Failed event); leases
are released, watches closed, exit 0. Restored workers and placeholders are left running.

Examples:
  # In the agent DaemonSet's container (NODE_NAME and POD_NAMESPACE from the downward API)
  snapshot-agent

  # From a workstation against a cluster, the simulated engine, probes on a free port
  snapshotctl agent --kubeconfig ~/.kube/config --node-name gpu-1 -n ml \\
    --config ./agent-config.yaml --engine sim --health-addr 127.0.0.1:0
`;

const VALIDATE_EXAMPLES = `
Exit codes: 0 no errors, 1 warnings with --strict, 2 any error (or a bad flag).
Files found in a directory are judged only when they hold a Pod (other kinds are
skipped with a note); a file named on the command line is judged whole.

Examples:
  # Check worker manifests before checkpointing (CI); every .yaml/.yml/.json below manifests/
  snapshotctl validate manifests/workers/

  # Placeholder pods to restore into in place, agent mounting the PVC at /ckpt
  snapshotctl validate --for restore --base-path /ckpt placeholder.yaml

  # Annotate pull requests (GitHub code scanning) and fail on warnings too
  snapshotctl validate -o sarif --strict manifests/ > snapshotctl.sarif

  # From another tool's output
  helm template ./chart | snapshotctl validate -o json -
`;

const LIST_EXAMPLES = `
Examples:
  # Checkpoints in the current namespace, newest first
  snapshotctl list

  # Every namespace, with job, pod, location and identity hash
  snapshotctl list -A -o wide

  # For scripts: a stable JSON document (apiVersion snapshotctl/v1, kind CheckpointList)
  snapshotctl list -n ml -o json | jq -r '.items[] | select(.status=="completed") | .id'

  # As a kubectl plugin
  kubectl snapshot list -n ml

  # Give up after 10s when the API server does not answer (exit 4)
  snapshotctl list --timeout 10s
`;

const DESCRIBE_EXAMPLES = `
Examples:
  # Everything known about a checkpoint: Job, pod, events, artifact manifest, restores
  snapshotctl describe llama-8b-v1 -n ml

  # Skip reading the artifact through a short-lived pod
  snapshotctl describe llama-8b-v1 --no-artifact

  # Machine-readable
  snapshotctl describe llama-8b-v1 -o json
`;

const DELETE_EXAMPLES = `
Examples:
  # Delete one checkpoint's Job (asks on a terminal)
  snapshotctl delete llama-8b-v1 -n ml

  # Delete only the Job: the artifact stays on the volume, listed and restorable
  snapshotctl delete llama-8b-v1 --keep-artifacts --yes

  # Every checkpoint matching a label selector (scripts must pass --yes)
  snapshotctl delete -l team=ml --yes

  # Also delete restore pods that are still running from this checkpoint
  snapshotctl delete llama-8b-v1 --force --yes
`;

const PRUNE_EXAMPLES = `
Examples:
  # What would go: artifacts on the volume that no Job, DynamoCheckpoint or pod refers to
  snapshotctl prune --dry-run -n ml

  # Remove orphans older than a week, without asking
  snapshotctl prune --older-than 168h --yes -n ml

  # Every orphan, however new
  snapshotctl prune --older-than 0 --yes
`;

const HASH_EXAMPLES = `
Examples:
  # The identity hash the Dynamo operator computes (docs/protocol.md §8)
  snapshotctl hash --model meta-llama/Llama-2-7b-hf --backend-framework vllm

  # All identity fields, JSON with the exact bytes that were hashed
  snapshotctl hash --model meta-llama/Llama-2-13b-hf --backend-framework sglang --dynamo-version 0.4.2 \\
    --tp 2 --dtype float16 --max-model-len 4096 --extra gpu_memory_utilization=0.9 -o json

  # From a DynamoCheckpoint or DynamoGraphDeployment file
  snapshotctl hash --file dgd.yaml --service VllmWorker
`;

const COMPLETION_EXAMPLES = `
Examples:
  # bash (current shell, then permanently)
  source <(snapshotctl completion bash)
  snapshotctl completion bash > ~/.local/share/bash-completion/completions/snapshotctl

  # zsh
  snapshotctl completion zsh > "\${fpath[1]}/_snapshotctl"

  # fish
  snapshotctl completion fish > ~/.config/fish/completions/snapshotctl.fish
`;

function addClusterOptions(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <namespace>', 'namespace (default: the kubeconfig context\'s, else "default")')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--kube-context <name>', 'kubeconfig context to use')
    .addOption(new Option('--context <name>', 'alias of --kube-context'))
    .option('-q, --quiet', 'no progress output on stderr, only errors')
    .option('-v, --verbose', 'print each API call on stderr')
    .option('--no-color', 'no colour or spinner');
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

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

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <namespace>', 'namespace (default: the manifest\'s, else the kubeconfig context\'s, else "default")')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--kube-context <name>', 'kubeconfig context to use')
    .addOption(new Option('--context <name>', 'alias of --kube-context'))
    .option('--checkpoint-id <id>', 'checkpoint ID: a label value of at most 63 characters of [A-Za-z0-9._-]')
    .option('-o, --output <format>', 'output format: kv, json, yaml or name', 'kv')
    .option('--timeout <duration>', 'give up after this long, look-ups included (Go duration, e.g. 90s, 20m, 1h30m; 0 waits forever); an API server that stops answering ends the run sooner (exit 3)', '15m')
    .option('--dry-run [mode]', 'print the objects instead of sending them: client (default) or server')
    .option('--no-wait', 'create the objects, print, and do not wait for the verdict')
    .option('--keep-on-failure', 'keep the objects this run created when it fails, times out or is interrupted')
    .option('--poll-interval <duration>', 'poll interval when RBAC forbids watch, or (at most 1s) when the watch keeps failing', '2s')
    .option('--pvc <name>', 'checkpoint PVC (skips discovery; with --base-path and --dry-run no cluster is needed)')
    .option('--base-path <path>', 'where the agent mounts the checkpoint PVC, e.g. /checkpoints')
    .option('--node <name>', 'run on this node (must have a Ready snapshot agent)')
    .option('--no-agent-affinity', 'do not restrict scheduling to snapshot agent nodes (v1.0.x objects, unchanged)')
    .option('--skip-image-check', 'accept an image outside the placeholder-image policy (.snapshotctl.yaml)')
    .option('--config <file>', 'project config with the placeholder-image policy (default: ./.snapshotctl.yaml when present)')
    .option('-q, --quiet', 'no progress output on stderr, only errors')
    .option('-v, --verbose', 'print each API call on stderr')
    .option('--no-color', 'no colour or spinner');
}

/** The whole command tree. `onAction` gets each verb's name and commander's raw options. */
export function buildProgram(version: string, onAction: ActionHandler, name = 'snapshotctl'): Command {
  const program = new Command(name)
    .description(
      'Checkpoint a warmed-up GPU inference worker once and restore it in seconds (works with NVIDIA Dynamo v1.0.x snapshot-agent).',
    )
    .version(version, '--version', 'print the version')
    .showSuggestionAfterError(true);

  addCommonOptions(
    program
      .command('checkpoint')
      .description('create a checkpoint Job from a worker Pod manifest and wait for the snapshot agent\'s verdict')
      .option('--manifest <file>', 'worker Pod manifest (YAML or JSON), - for stdin')
      .option(
        '--disable-cuda-checkpoint-job-file',
        'do not wrap the command in `cuda-checkpoint --launch-job` (needed with NVIDIA\'s public cuda-checkpoint 580.x)',
      )
      .option('--resume', 'wait on the checkpoint Job an earlier, interrupted run left behind instead of creating one')
      .option('--identity <file>', 'checkpoint through a DynamoCheckpoint: its identity from this DynamoCheckpoint or DynamoGraphDeployment file (- for stdin)')
      .option('--service <name>', 'with --identity and a DynamoGraphDeployment: the service whose checkpoint.identity to use')
      .option('--model <name>', 'DynamoCheckpoint identity: model (with --backend-framework and --manifest)')
      .option('--backend-framework <name>', 'DynamoCheckpoint identity: vllm, sglang or trtllm')
      .option('--dynamo-version <version>', 'DynamoCheckpoint identity: Dynamo version')
      .option('--tp <n>', 'DynamoCheckpoint identity: tensor parallel size')
      .option('--pp <n>', 'DynamoCheckpoint identity: pipeline parallel size')
      .option('--dtype <dtype>', 'DynamoCheckpoint identity: dtype, e.g. bfloat16')
      .option('--max-model-len <n>', 'DynamoCheckpoint identity: maximum model length')
      .option('--extra <key=value>', 'DynamoCheckpoint identity: extra parameter (repeatable)', (v: string, prev: string[] = []) => [...prev, v]),
  )
    .addHelpText('after', CHECKPOINT_EXAMPLES)
    .action(async (raw: Record<string, unknown>) => onAction('checkpoint', raw));

  addCommonOptions(
    program
      .command('restore')
      .description('restore a checkpoint into a new pod (--manifest) or an existing placeholder pod (--pod), and wait')
      .option('--manifest <file>', 'Pod manifest for the new restore pod (YAML or JSON), - for stdin')
      .option('--pod <name>', 'existing placeholder pod to restore into')
      .option('--no-verify', 'do not check first that the checkpoint exists (a completed Job, else its artifact through a short-lived reader pod); for an agent whose storage snapshotctl cannot see')
      .option('--helper-image <image>', 'image of that reader pod (needs `cp`)', 'busybox:1.36')
      .addOption(new Option('--disable-cuda-checkpoint-job-file', 'accepted for compatibility; has no effect on restore').hideHelp()),
  )
    .addHelpText('after', RESTORE_EXAMPLES)
    .action(async (raw: Record<string, unknown>) => onAction('restore', raw));

  program
    .command('validate')
    .description('check worker and placeholder Pod manifests offline, without a cluster (rules SNAP001-SNAP023; for CI)')
    .argument('<paths...>', 'manifest files, directories (searched for .yaml, .yml and .json) or - for stdin')
    .option('--for <purpose>', 'checkpoint (worker manifests), restore (placeholder pods restored in place) or both', 'checkpoint')
    .option('-o, --output <format>', 'output format: text, json or sarif', 'text')
    .option('--strict', 'exit 1 when there are warnings (errors always exit 2)')
    .option('--config <file>', 'project config with the placeholder-image policy (default: ./.snapshotctl.yaml when present)')
    .option('--skip-image-check', 'do not apply the placeholder-image policy')
    .option('--checkpoint-id <id>', 'also check this checkpoint ID')
    .option('--base-path <path>', 'where the agent mounts the checkpoint PVC (restore preconditions)', '/checkpoints')
    .option('--pvc <name>', 'the checkpoint PVC the placeholder must use (default: any claim)')
    .option('--disable-cuda-checkpoint-job-file', 'the worker will run without cuda-checkpoint wrapping (no command needed)')
    .option('--no-color', 'no colour')
    .addHelpText('after', VALIDATE_EXAMPLES)
    .action(async (paths: string[], raw: Record<string, unknown>) => onAction('validate', { ...raw, files: paths }));

  program
    .command('agent')
    .description('run the snapshot agent of one node (what the agent DaemonSet runs; also the snapshot-agent binary)')
    .option('--config <path>', 'agent config file, Dynamo\'s config.yaml format (default: /etc/snapshot/config.yaml when present)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: the pod\'s service account, else $KUBECONFIG or ~/.kube/config)')
    .option('--kube-context <name>', 'kubeconfig context to use')
    .option('--node-name <name>', 'the node this agent serves (default: $NODE_NAME)')
    .option('-n, --namespace <namespace>', 'namespace to serve (default: $POD_NAMESPACE, else the kubeconfig\'s or service account\'s)')
    .option('--health-addr <host:port>', 'where /healthz and /readyz listen, or off', '0.0.0.0:8080')
    .option('--engine <name>', 'snapshot engine: sim, criu or cuda (default: the best that works with the runtime)')
    .option('--runtime <name>', `container runtime: ${runtimeNames().join(', ')}`, DEFAULT_RUNTIME)
    .option('--containerd-address <socket>', 'containerd\'s socket, for --runtime containerd (default: /run/containerd/containerd.sock)')
    .option('--shutdown-grace <duration>', 'after SIGTERM, how long an operation in flight may take to finish', '20s')
    .option('--log-level <level>', 'debug, info, warn or error (default: $SNAPSHOT_LOG_LEVEL, else info)')
    .addHelpText('after', AGENT_HELP)
    .action(async (raw: Record<string, unknown>) => onAction('agent', raw));

  program
    .command('demo')
    .description('run checkpoint, restore from a manifest and restore in place on the embedded dev cluster (no cluster or GPU needed), or on a real Kubernetes node (--cluster real)')
    .option('--cluster <kind>', 'dev: the embedded dev cluster; real: a real single-node Kubernetes on 127.0.0.1 (scripts/real-cluster.sh; root on Linux)', 'dev')
    .option('--nodes <n>', 'simulated nodes (dev cluster; default 2)')
    .option('--engine <name>', 'snapshot engine on the dev cluster: sim, criu or cuda (default: criu when CRIU works here, as root with scripts/setup-criu.sh run, else sim; the demo says which and why); a real cluster uses criu')
    .option('--keep-cluster', 'with --cluster real: leave a cluster this run started running afterwards')
    .option('-v, --verbose', 'show the snapshot agents\' log (dev) or the build scripts\' output (real)')
    .addHelpText('after', '\nExamples:\n  snapshotctl demo\n  snapshotctl demo --nodes 3 --verbose\n  snapshotctl demo --cluster real    # as root on Linux\n')
    .action(async (raw: Record<string, unknown>) => onAction('demo', raw));

  const dev = program
    .command('dev')
    .description('the embedded dev cluster (API server, simulated nodes, snapshot agents) for trying snapshotctl without a cluster');
  const stateDirOption = () => new Option('--state-dir <dir>', 'where the dev cluster keeps its kubeconfig, storage and log (default: $SNAPSHOTCTL_DEV_DIR or ~/.local/state/snapshotctl/dev)');
  const upOptions = (cmd: Command) =>
    cmd
      // No commander defaults: `dev up` compares only the flags given with a cluster already running.
      .option('--nodes <n>', 'simulated nodes (default: 2)')
      .option('--gpu-nodes <n>', 'how many of them are GPU nodes running the agent (default: all)')
      .option('--engine <name>', 'snapshot engine: sim, criu or cuda (default: the best that works with the runtime)')
      .option('--port <port>', 'API server port on 127.0.0.1 (default: 0, any free port)')
      .option('--runtime <runtime>', 'container runtime of the nodes: sim or process (default: sim)')
      .addOption(stateDirOption());
  upOptions(dev.command('up').description('start the dev cluster in the background and print its kubeconfig'))
    .addHelpText('after', '\nExamples:\n  snapshotctl dev up\n  eval "$(snapshotctl dev up | grep ^export)"\n  snapshotctl dev up --nodes 3 --gpu-nodes 1 --port 6443\n')
    .action(async (raw: Record<string, unknown>) => onAction('dev up', raw));
  upOptions(dev.command('serve', { hidden: true }).description('run the dev cluster in the foreground (what `dev up` starts)')).action(
    async (raw: Record<string, unknown>) => onAction('dev serve', raw),
  );
  dev
    .command('status')
    .description('is the dev cluster running; anything left behind?')
    .addOption(stateDirOption())
    .option('-o, --output <format>', 'kv or json', 'kv')
    .addHelpText('after', '\nExamples:\n  snapshotctl dev status\n  snapshotctl dev status -o json\n')
    .action(async (raw: Record<string, unknown>) => onAction('dev status', raw));
  dev
    .command('down')
    .description('stop the dev cluster and remove every file it made')
    .addOption(stateDirOption())
    .addHelpText('after', '\nExamples:\n  snapshotctl dev down\n')
    .action(async (raw: Record<string, unknown>) => onAction('dev down', raw));

  addClusterOptions(
    program
      .command('list')
      .alias('ls')
      .description('list the checkpoints: the artifacts on the checkpoint volume, checkpoint Jobs, DynamoCheckpoint objects and the restore pods that use them')
      .option('-A, --all-namespaces', 'list in every namespace')
      .option('-l, --selector <selector>', 'label selector (key=value[,key=value]) on Jobs, DynamoCheckpoints and restore pods')
      .option('-o, --output <format>', 'table, wide, json, yaml or name', 'table')
      .option('--no-storage', 'do not list the checkpoint volume (no short-lived reader pod): artifacts whose Job is gone are not shown')
      .option('--helper-image <image>', 'image of the short-lived pod that lists the checkpoint volume (needs `sh`, `sed`, `du`, `stat`)', 'busybox:1.36')
      .option('--timeout <duration>', 'how long the whole command may take (0: no limit); an API server that does not answer in time exits 4', '60s'),
  )
    .addHelpText('after', LIST_EXAMPLES)
    .action(async (raw: Record<string, unknown>) => onAction('list', raw));

  addClusterOptions(
    program
      .command('describe')
      .argument('<id>', 'checkpoint ID (or DynamoCheckpoint identity hash)')
      .description('show everything known about one checkpoint and the next command to run')
      .option('-o, --output <format>', 'text, json or yaml', 'text')
      .option('--no-artifact', 'do not read the artifact manifest through a short-lived reader pod')
      .option('--helper-image <image>', 'image of the short-lived reader pod (needs `cp`)', 'busybox:1.36')
      .option('--timeout <duration>', 'how long the whole command may take, the reader pod included (0: no limit); an API server that does not answer in time exits 4', '60s'),
  )
    .addHelpText('after', DESCRIBE_EXAMPLES)
    .action(async (id: string, raw: Record<string, unknown>) => onAction('describe', { ...raw, id }));

  addClusterOptions(
    program
      .command('delete')
      .argument('[ids...]', 'checkpoint IDs')
      .description('delete checkpoints: the checkpoint Job (and DynamoCheckpoint) and the artifact directory on the checkpoint volume')
      .option('--all', 'every checkpoint in the namespace')
      .option('-l, --selector <selector>', 'the checkpoints whose Job or DynamoCheckpoint matches this label selector')
      .option('--artifacts', 'remove the artifact directory even where the checkpoint volume could not be listed (by default it is removed when the listing shows it)')
      .option('--keep-artifacts', 'keep the artifact directory: only the cluster objects go, the checkpoint stays listed and restorable, and restore pods are left alone')
      .option('--force', 'also delete restore pods of these checkpoints that are still running')
      .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
      .option('-o, --output <format>', 'text or json', 'text')
      .option('--helper-image <image>', 'image of the short-lived pods that list and remove artifacts (needs `sh`, `sed`, `du`, `stat`, `rm`)', 'busybox:1.36')
      .option('--timeout <duration>', 'how long the look-ups may take, and then the deletions (the question aside; 0: no limit); an API server that does not answer in time exits 4', '2m'),
  )
    .addHelpText('after', DELETE_EXAMPLES)
    .action(async (ids: string[], raw: Record<string, unknown>) => onAction('delete', { ...raw, ids }));

  addClusterOptions(
    program
      .command('prune')
      .description('remove orphaned artifacts: checkpoints on the volume that no Job, DynamoCheckpoint or restore pod refers to')
      .option('--older-than <duration>', 'only orphans at least this old (0: every one)', '1h')
      .option('--dry-run', 'say what would be removed; remove nothing')
      .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
      .option('-o, --output <format>', 'text or json', 'text')
      .option('--helper-image <image>', 'image of the short-lived pods that list and remove artifacts (needs `sh`, `sed`, `du`, `stat`, `rm`)', 'busybox:1.36')
      .option('--timeout <duration>', 'how long the look-ups may take, and then the removal (the question aside; 0: no limit)', '2m'),
  )
    .addHelpText('after', PRUNE_EXAMPLES)
    .action(async (raw: Record<string, unknown>) => onAction('prune', raw));

  program
    .command('hash')
    .description('print the DynamoCheckpoint identity hash of a model identity (offline)')
    .option('--model <name>', 'model, e.g. meta-llama/Llama-2-7b-hf')
    .option('--backend-framework <name>', 'vllm, sglang or trtllm')
    .option('--dynamo-version <version>', 'Dynamo version, e.g. 0.4.2')
    .option('--tp <n>', 'tensor parallel size (0 or unset means 1)')
    .option('--pp <n>', 'pipeline parallel size (0 or unset means 1)')
    .option('--dtype <dtype>', 'e.g. float16')
    .option('--max-model-len <n>', 'maximum model length (0 or unset: omitted)')
    .option('--extra <key=value>', 'extra parameter (repeatable)', collect)
    .option('-f, --file <file>', 'DynamoCheckpoint or DynamoGraphDeployment YAML, - for stdin')
    .option('--service <name>', 'with a DynamoGraphDeployment: only this service')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText('after', HASH_EXAMPLES)
    .action(async (raw: Record<string, unknown>) => onAction('hash', raw));

  program
    .command('completion')
    .argument('<shell>', 'bash, zsh or fish')
    .description('print a shell completion script (completes commands, flags, checkpoint IDs and pod names)')
    .addHelpText('after', COMPLETION_EXAMPLES)
    .action(async (shell: string, raw: Record<string, unknown>) => onAction('completion', { ...raw, shell }));

  addClusterOptions(
    program
      .command('__complete', { hidden: true })
      .argument('[words...]', 'the command line so far')
      .description('print completion candidates (used by the completion scripts)')
      // kubectl's plugin completion (kubectl_complete-snapshot) reads cobra's format.
      .addOption(new Option('--cobra', 'end with cobra\'s ":<directive>" line').hideHelp())
      .allowUnknownOption(true),
  ).action(async (words: string[], raw: Record<string, unknown>) => onAction('__complete', { ...raw, words }));

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
  return program;
}

/** Long flag names (for Go-style `-flag` rewriting) and which of them take no value. */
export function flagNames(program: Command): { long: Set<string>; boolean: Set<string> } {
  const long = new Set<string>(['help', 'version']);
  const boolean = new Set<string>(['help', 'version']);
  for (const cmd of [program, ...program.commands]) {
    for (const opt of cmd.options) {
      if (!opt.long) continue;
      const name = opt.long.replace(/^--/, '');
      long.add(name);
      if (!opt.required && !opt.optional) boolean.add(name);
    }
  }
  return { long, boolean };
}

/**
 * Commander wiring of the catalogue commands (`list`, `describe`, `delete`, `hash`,
 * `completion` and the hidden `__complete`): flags, help and examples only.
 */
import { Command, Option } from 'commander';

export type CatalogueCommandName = 'list' | 'describe' | 'delete' | 'prune' | 'hash' | 'completion' | '__complete';
export const CATALOGUE_COMMANDS: readonly CatalogueCommandName[] = ['list', 'describe', 'delete', 'prune', 'hash', 'completion', '__complete'];

/** True for the commands `runCatalogue` handles. */
export function isCatalogueCommand(name: string): name is CatalogueCommandName {
  return (CATALOGUE_COMMANDS as readonly string[]).includes(name);
}

type Handler = (name: CatalogueCommandName, raw: Record<string, unknown>) => Promise<void>;

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
  # The identity hash the Dynamo operator computes (protocol.md §8)
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

/** Add the catalogue commands to `program`. */
export function addCatalogueCommands(program: Command, onAction: Handler): void {
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
}

/**
 * Shell completion: the scripts `snapshotctl completion bash|zsh|fish` prints, and the
 * candidates the hidden `snapshotctl __complete -- WORDS...` prints for them, one per
 * line: subcommands, flags, flag values, and from the cluster checkpoint IDs and pod
 * names. No candidates means "complete file names" to the scripts.
 */
import type { Command } from 'commander';
import { EXIT, UsageError } from '../errors.js';
import type { CommandDeps } from '../commands/context.js';
import type { CompletionSource } from '../commands/complete.js';
import { hasControls } from './terminal-text.js';
import type { ClusterVerbIO } from './verbs.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Fixed values of flags, by flag. */
const FLAG_VALUES: Record<string, Record<string, string[]>> = {
  '--output': {
    list: ['table', 'wide', 'json', 'yaml', 'name'],
    describe: ['text', 'json', 'yaml'],
    delete: ['text', 'json'],
    hash: ['text', 'json'],
    validate: ['text', 'json', 'sarif'],
    '*': ['kv', 'json', 'yaml', 'name'],
  },
  '--backend-framework': { '*': ['vllm', 'sglang', 'trtllm'] },
  '--dry-run': { '*': ['client', 'server'] },
  '--engine': { '*': ['sim', 'criu', 'cuda'] },
  '--runtime': { '*': ['sim', 'process'] },
};

/** Flags whose value comes from the cluster. */
const FLAG_SOURCES: Record<string, CompletionSource> = {
  '--checkpoint-id': 'checkpoint-ids',
  '--pod': 'pods',
  '--namespace': 'namespaces',
};

/** What to complete: fixed words, or a cluster look-up (with the flags that scope it). */
export type CompletionRequest =
  | { kind: 'words'; words: string[] }
  | { kind: 'lookup'; source: CompletionSource; prefix: string; namespace?: string; kubeconfig?: string; context?: string };

function longName(cmd: Command, flag: string): string {
  const opt = cmd.options.find((o) => o.short === flag || o.long === flag);
  return opt?.long ?? flag;
}

function takesValue(cmd: Command, flag: string): boolean {
  const opt = cmd.options.find((o) => o.short === flag || o.long === flag);
  return opt !== undefined && (opt.required || opt.optional);
}

/**
 * Decide what to complete for `words` (the command line after the program name; the
 * last word is the one being completed, possibly empty). Pure.
 */
export function completionRequest(program: Command, words: string[]): CompletionRequest {
  const current = words[words.length - 1] ?? '';
  const before = words.slice(0, -1);
  const visible = program.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  const sub = visible.find((c) => c.name() === before[0] || c.aliases().includes(before[0] ?? ''));
  const match = (list: string[]) => ({ kind: 'words' as const, words: list.filter((w) => w.startsWith(current)) });
  if (!sub) return match(before.length === 0 ? visible.map((c) => c.name()) : []);
  // A nested command (dev up|down|status).
  if (sub.commands.length > 0) {
    const nested = sub.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const inner = nested.find((c) => c.name() === before[1]);
    if (!inner) return match(before.length === 1 ? nested.map((c) => c.name()) : []);
    return flagsOrValues(inner, inner.name(), before.slice(2), current, match);
  }
  const scope: { namespace?: string; kubeconfig?: string; context?: string } = {};
  for (let i = 1; i < before.length; i++) {
    const w = before[i]!;
    const [flag, inline] = w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, before[i + 1]];
    const long = longName(sub, flag);
    if (inline === undefined) continue;
    if (long === '--namespace') scope.namespace = inline;
    if (long === '--kubeconfig') scope.kubeconfig = inline;
    if (long === '--kube-context' || long === '--context') scope.context = inline;
  }
  const req = flagsOrValues(sub, sub.name(), before.slice(1), current, match);
  if (req.kind === 'lookup') return { ...req, ...scope };
  // Positional checkpoint IDs of describe and delete.
  if ((sub.name() === 'describe' || sub.name() === 'delete') && !current.startsWith('-') && req.words.length === 0 && !isFlagValuePosition(sub, before.slice(1))) {
    return { kind: 'lookup', source: 'checkpoint-ids', prefix: current, ...scope };
  }
  if (sub.name() === 'completion' && !current.startsWith('-')) return match([...SHELLS]);
  return req;
}

function isFlagValuePosition(cmd: Command, args: string[]): boolean {
  const prev = args[args.length - 1];
  return prev !== undefined && prev.startsWith('-') && !prev.includes('=') && takesValue(cmd, prev);
}

function flagsOrValues(cmd: Command, name: string, args: string[], current: string, match: (l: string[]) => CompletionRequest & { kind: 'words' }): CompletionRequest {
  if (isFlagValuePosition(cmd, args)) {
    const flag = longName(cmd, args[args.length - 1]!);
    const source = FLAG_SOURCES[flag];
    if (source) return { kind: 'lookup', source, prefix: current };
    const values = FLAG_VALUES[flag];
    if (values) return match(values[name] ?? values['*'] ?? []);
    return { kind: 'words', words: [] };
  }
  if (current.startsWith('-')) return match(cmd.options.filter((o) => !o.hidden).flatMap((o) => [o.long ?? '', o.short ?? '']).filter(Boolean));
  return { kind: 'words', words: [] };
}

/** The completion script for `shell`; `bin` is the program name to complete. */
export function completionScript(shell: string, bin = 'snapshotctl'): string {
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}`;
  switch (shell) {
    case 'bash':
      return `# bash completion for ${bin}; source <(${bin} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  local out
  out=$(${bin} __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  if [ -n "$out" ]; then
    COMPREPLY=($(compgen -W "$out" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o default -F ${fn} ${bin}
`;
    case 'zsh':
      return `#compdef ${bin}
# zsh completion for ${bin}; ${bin} completion zsh > "\${fpath[1]}/_${bin}"
${fn}() {
  local -a candidates
  candidates=("\${(@f)$(${bin} __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if (( \${#candidates[@]} )) && [[ -n "\${candidates[1]}" ]]; then
    compadd -a candidates
  else
    _files
  fi
}
compdef ${fn} ${bin}
`;
    case 'fish':
      return `# fish completion for ${bin}; ${bin} completion fish > ~/.config/fish/completions/${bin}.fish
function __${fn}_complete
  set -l words (commandline -opc)
  set -e words[1]
  ${bin} __complete -- $words (commandline -ct) 2>/dev/null
end
complete -c ${bin} -f -a '(__${fn}_complete)'
`;
    default:
      throw new UsageError(`no completion for shell "${shell}"`, `use one of: ${SHELLS.join(', ')}`);
  }
}

/** Run `completion <shell>`: the script on stdout. */
export async function runCompletion(raw: Record<string, unknown>, io: Pick<ClusterVerbIO, 'stdout'>): Promise<number> {
  io.stdout(completionScript(String(raw['shell'] ?? '')));
  return EXIT.ok;
}

/**
 * Cobra's ShellCompDirective for `candidates`, as kubectl's plugin completion reads it:
 * 4 (NoFileComp) when there are candidates, 0 (Default: the shell completes file names)
 * when there are none, as our own scripts do.
 */
export function cobraDirective(candidates: readonly string[]): number {
  return candidates.length > 0 ? 4 : 0;
}

/** Run the hidden `__complete WORDS...`: one candidate a line (and cobra's directive with --cobra). */
export async function runComplete(raw: Record<string, unknown>, deps: CommandDeps, io: Pick<ClusterVerbIO, 'stdout'>): Promise<number> {
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

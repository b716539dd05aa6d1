/**
 * How the dev nodes answer `snapshotctl preflight`'s probe pod. A real node runs the
 * probe's shell script inside the image, which reports which placeholder tools exist
 * (`criu`, `cuda-checkpoint` and its `--launch-job`, `/usr/local/bin/nsrestore`,
 * `sleep`). The dev nodes have no images, so a container whose command is
 * `sh -c <script>` with the probe's first line is answered here, from a table:
 * image pattern → the tools that image has (first match wins). The line is written as
 * the termination message, exactly as the script writes it, and the container exits 0.
 *
 * Default table: an image whose name contains `placeholder` has every tool (and a
 * cuda-checkpoint with `--launch-job`); any other image (a raw runtime image) has only
 * `sleep`. Set another with `startApiServer({ imageTools })` or
 * `startDevCluster({ imageTools })`, e.g. a placeholder built on the public
 * cuda-checkpoint 580.x: `{ image: '*:580-placeholder', tools: ['criu', 'cuda-checkpoint', 'nsrestore', 'sleep'] }`.
 */
import { OneShotContainer, type ContainerLaunch } from './runtime.js';

/**
 * First line of the probe script. A copy of `PROBE_MARKER` in
 * src/commands/preflight-probe.ts (the dev API server imports nothing from the CLI);
 * probe-tools.test.ts runs the CLI's script through a node to keep them equal.
 */
export const PROBE_SCRIPT_MARKER = '# snapshotctl preflight probe v1';

/** What the probe looks for; `launch-job`: cuda-checkpoint's help mentions `--launch-job`. */
export type ImageTool = 'criu' | 'cuda-checkpoint' | 'launch-job' | 'nsrestore' | 'sleep';
const TOOL_ORDER: readonly ImageTool[] = ['criu', 'cuda-checkpoint', 'launch-job', 'nsrestore', 'sleep'];

/** One row of the table: `image` is a pattern where `*` matches any characters. */
export interface ImageToolsRule {
  image: string;
  tools: ImageTool[];
}

export const DEFAULT_IMAGE_TOOLS: readonly ImageToolsRule[] = [
  { image: '*placeholder*', tools: [...TOOL_ORDER] },
  { image: '*', tools: ['sleep'] },
];

function patternMatches(pattern: string, image: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(image);
}

/** The tools `image` has under `rules` (none when no rule matches). */
export function toolsOfImage(image: string, rules: readonly ImageToolsRule[]): Set<ImageTool> {
  const rule = rules.find((r) => patternMatches(r.image, image));
  return new Set(rule?.tools ?? []);
}

/** The probe's output line for these tools: `criu=1 cuda-checkpoint=1 launch-job=0 nsrestore=1 sleep=1`. */
export function probeLine(tools: Set<ImageTool>): string {
  // --launch-job is only looked for when cuda-checkpoint exists, as the script does.
  const has = (t: ImageTool) => (tools.has(t) && (t !== 'launch-job' || tools.has('cuda-checkpoint')) ? 1 : 0);
  return `${TOOL_ORDER.map((t) => `${t}=${has(t)}`).join(' ')}\n`;
}

/** Is this the probe's command (`sh -c <script starting with the marker>`)? */
export function isProbeCommand(argv: string[]): boolean {
  const [sh, flag, script] = argv;
  const base = sh?.split('/').pop();
  return (base === 'sh' || base === 'bash') && flag === '-c' && typeof script === 'string' && script.split('\n')[0]?.trim() === PROBE_SCRIPT_MARKER;
}

/** A probe container for this launch, or undefined when it is another command. */
export function probeContainer(launch: ContainerLaunch, image: string, rules: readonly ImageToolsRule[]): ProbeContainer | undefined {
  if (!isProbeCommand([...(launch.spec.command ?? []), ...(launch.spec.args ?? [])])) return undefined;
  return new ProbeContainer(launch, probeLine(toolsOfImage(image, rules)));
}

/** Answers the probe and ends with exit 0; see the file comment. */
export class ProbeContainer extends OneShotContainer {
  /** The line the script writes to its termination message path. */
  readonly terminationMessage: string;

  constructor(l: ContainerLaunch, line: string) {
    super(l);
    this.terminationMessage = line;
  }

  protected async work(): Promise<number> {
    return 0;
  }
}

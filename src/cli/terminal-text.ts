/**
 * Text from input or the cluster, made safe for a terminal. A manifest's `kind`, an
 * Event's message or a pod name can carry escape sequences that retitle the window,
 * move the cursor or rewrite a line already printed; every human-readable line
 * snapshotctl prints passes its values through here. JSON and YAML output stay exact.
 */

// C0 controls, DEL and C1 controls (U+0080-U+009F, which some terminals read as ESC [ and co.).
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
const CONTROLS_BUT_NEWLINE_AND_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

function hex(ch: string): string {
  return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/**
 * Control characters as `\x1b`-style escapes, so an escape sequence shows as text. With
 * `multiline`, newlines and tabs stay (text meant to span lines, like a manifest);
 * otherwise every control character is escaped, newlines included.
 */
export function escapeControls(text: string, opts: { multiline?: boolean } = {}): string {
  return text.replace(opts.multiline ? CONTROLS_BUT_NEWLINE_AND_TAB : CONTROLS, hex);
}

/** One line for a table cell or a `key: value`: line breaks become a space, then escapeControls. */
export function oneLine(text: string): string {
  return escapeControls(text.replace(/\s*\n\s*/g, ' '));
}

/** True when the text holds a control character (completion drops such candidates). */
export function hasControls(text: string): boolean {
  return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}

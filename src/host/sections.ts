// How mailrig's host scripts frame their output: before each fact (or each command's answer) a
// script prints a header line "### mailrig-<script> <section>", and one parser splits the output
// back into sections. Several scripts share one round trip, so a section ends at the next header of
// any script, or at "<script> end".
const PREFIX = '### mailrig-';

/** The header line a script prints (with echo or printf) before a section's output. */
export function sectionHeader(script: string, section: string): string {
  return `${PREFIX}${script} ${section}`;
}

/** `script`'s sections in `output`: header text after the script's name → its non-blank lines. */
export function readSections(output: string, script: string): Map<string, string[]> {
  const own = `${PREFIX}${script} `;
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith(PREFIX)) {
      const name = line.startsWith(own) ? line.slice(own.length).trim() : 'end';
      current = name === 'end' ? undefined : [];
      if (current) out.set(name, current);
    } else if (current && line.trim() !== '') {
      current.push(line);
    }
  }
  return out;
}

// A small, strict XML reader for DMARC aggregate reports, which use plain elements and text only.
// A document type declaration is refused outright, so no entity can be defined, let alone
// expanded (billion laughs, external entities); only the five predefined entities and character
// references are decoded. Namespace prefixes are dropped from names; attributes are not needed.

export interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

export class XmlError extends Error {
  override name = 'XmlError';
}

const MAX_DEPTH = 32;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&([^;&\s]{1,10});/g, (whole, ref: string) => {
    if (ref in PREDEFINED) return PREDEFINED[ref] ?? '';
    const code = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : ref.startsWith('#') ? parseInt(ref.slice(1), 10) : NaN;
    if (Number.isInteger(code) && code > 0 && code <= 0x10ffff) return String.fromCodePoint(code);
    throw new XmlError(`unknown entity ${whole}`);
  });
}

export function parseXml(source: string): XmlNode {
  if (/<!DOCTYPE/i.test(source) || /<!ENTITY/i.test(source)) throw new XmlError('has a document type declaration (DOCTYPE/ENTITY); refused');
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  let i = 0;
  const n = source.length;
  const fail = (what: string): never => {
    throw new XmlError(`${what} at offset ${i}`);
  };
  while (i < n) {
    const lt = source.indexOf('<', i);
    const text = source.slice(i, lt < 0 ? n : lt);
    const top = stack[stack.length - 1];
    if (top) top.text += decode(text);
    else if (text.trim() !== '' && text.trim() !== '\uFEFF') fail('text outside the root element');
    if (lt < 0) break;
    i = lt;
    if (source.startsWith('<?', i)) {
      const end = source.indexOf('?>', i);
      if (end < 0) fail('unterminated processing instruction');
      i = end + 2;
    } else if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i + 4);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (source.startsWith('<![CDATA[', i)) {
      const end = source.indexOf(']]>', i);
      if (end < 0 || !top) fail('misplaced or unterminated CDATA section');
      if (top) top.text += source.slice(i + 9, end);
      i = end + 3;
    } else if (source.startsWith('</', i)) {
      const end = source.indexOf('>', i);
      if (end < 0) fail('unterminated end tag');
      const name = localName(source.slice(i + 2, end).trim());
      const open = stack.pop();
      if (!open || open.name !== name) fail(`end tag </${name}> does not match <${open?.name ?? ''}>`);
      i = end + 1;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(source.slice(i, i + 4096));
      if (!m) fail('malformed tag');
      const node: XmlNode = { name: localName(m?.[1] ?? ''), children: [], text: '' };
      if (top) top.children.push(node);
      else if (root) fail('a second root element');
      else root = node;
      if (m?.[3] !== '/') {
        stack.push(node);
        if (stack.length > MAX_DEPTH) fail('elements nested too deeply');
      }
      i += m?.[0].length ?? 0;
    }
  }
  if (stack.length > 0) throw new XmlError(`<${stack[stack.length - 1]?.name}> is not closed`);
  if (!root) throw new XmlError('no root element');
  return root;
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

/** The first child with this name. */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

/** The trimmed text of the child at this path, or undefined. */
export function textAt(node: XmlNode | undefined, ...path: string[]): string | undefined {
  let cur = node;
  for (const p of path) cur = child(cur, p);
  const t = cur?.text.trim();
  return t === undefined || t === '' ? undefined : t;
}

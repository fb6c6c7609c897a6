// A tiny XML well-formedness check for tests (no dependency): one root element, balanced and
// properly nested tags, quoted attributes without duplicates, known entities only. It returns the
// element tree, so tests can also assert on content.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = '[A-Za-z_][\\w.:-]*';
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

export function parseXml(source: string): XmlElement {
  let rest = source.replace(/^\uFEFF/, '');
  const decl = new RegExp(`^<\\?xml(\\s+${NAME}\\s*=\\s*("[^"]*"|'[^']*'))*\\s*\\?>`).exec(rest);
  if (decl) rest = rest.slice(decl[0].length);
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (rest.length > 0) {
    const lt = rest.indexOf('<');
    const text = lt < 0 ? rest : rest.slice(0, lt);
    checkText(text);
    const top = stack[stack.length - 1];
    if (top) top.text += decode(text);
    else if (text.trim() !== '') throw new Error(`text outside the root element: ${JSON.stringify(text.trim().slice(0, 40))}`);
    if (lt < 0) break;
    rest = rest.slice(lt);
    if (rest.startsWith('<!--')) {
      const end = rest.indexOf('-->');
      if (end < 0) throw new Error('unterminated comment');
      if (rest.slice(4, end).includes('--')) throw new Error('"--" inside a comment');
      rest = rest.slice(end + 3);
      continue;
    }
    const close = new RegExp(`^</(${NAME})\\s*>`).exec(rest);
    if (close) {
      const open = stack.pop();
      if (!open || open.name !== close[1]) throw new Error(`</${close[1]}> closes <${open?.name ?? 'nothing'}>`);
      rest = rest.slice(close[0].length);
      continue;
    }
    const tag = new RegExp(`^<(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`).exec(rest);
    if (!tag) throw new Error(`malformed markup at ${JSON.stringify(rest.slice(0, 40))}`);
    const element: XmlElement = { name: tag[1] ?? '', attributes: attributes(tag[2] ?? ''), children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else if (root) throw new Error(`second root element <${element.name}>`);
    else root = element;
    if (tag[3] !== '/') stack.push(element);
    rest = rest.slice(tag[0].length);
  }
  if (stack.length > 0) throw new Error(`<${stack[stack.length - 1]?.name}> is never closed`);
  if (!root) throw new Error('no root element');
  return root;
}

function attributes(source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of source.matchAll(new RegExp(`(${NAME})\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'g'))) {
    const name = m[1] ?? '';
    if (name in out) throw new Error(`duplicate attribute ${name}`);
    const value = m[2] ?? m[3] ?? '';
    checkText(value);
    out[name] = decode(value);
  }
  return out;
}

function checkText(text: string): void {
  if (text.replace(ENTITY, '').includes('&')) throw new Error(`bare & or unknown entity in ${JSON.stringify(text.slice(0, 40))}`);
  if (text.includes('>') && text.includes(']]>')) throw new Error(']]> in text');
}

function decode(text: string): string {
  return text.replace(ENTITY, (e) => {
    const named: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" };
    if (named[e]) return named[e];
    const hex = e.startsWith('&#x');
    return String.fromCodePoint(Number.parseInt(e.slice(hex ? 3 : 2, -1), hex ? 16 : 10));
  });
}

/** The children of `el` named `name`, at any depth below it. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  return el.children.flatMap((c) => [...(c.name === name ? [c] : []), ...findAll(c, name)]);
}

/** The trimmed text of the first direct child named `name`. */
export function childText(el: XmlElement, name: string): string | undefined {
  return el.children.find((c) => c.name === name)?.text.trim();
}

// Handlebars templates under templates/<service>/..., mirroring the paths on the host. Templates are
// compiled once per process; rendering is pure (data in, text out) and never HTML-escapes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

const TEMPLATE_ROOT = fileURLToPath(new URL('../../../templates/', import.meta.url));

const hbs = Handlebars.create();
hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
hbs.registerHelper('join', (list: unknown, sep: unknown) =>
  Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ', ') : '',
);

const cache = new Map<string, Handlebars.TemplateDelegate>();

/** Renders templates/<name> (e.g. "postfix/main.cf.hbs") with `data`. */
export function renderTemplate(name: string, data: object): string {
  let compiled = cache.get(name);
  if (!compiled) {
    const source = readFileSync(`${TEMPLATE_ROOT}${name}`, 'utf8');
    compiled = hbs.compile(source, { noEscape: true, strict: true });
    cache.set(name, compiled);
  }
  return compiled(data);
}

export function templateRoot(): string {
  return TEMPLATE_ROOT;
}

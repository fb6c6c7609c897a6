// Handlebars templates under templates/<service>/..., mirroring the paths on the host. Templates are
// compiled once per process; rendering is pure (data in, text out) and never HTML-escapes.
//
// A template includes another as a partial by its path under templates/ without ".hbs", e.g.
// {{> dovecot/shared/services.conf}}; hash arguments ({{> name key="value"}}) are added to the data
// the partial sees. Partials are found and loaded when the template that names them is compiled.
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

/** `{{> name` and `{{#> name` (block form), with or without `~`. */
const PARTIAL = /\{\{~?#?>\s*([\w./-]+)/g;

function compiled(name: string): Handlebars.TemplateDelegate {
  let template = cache.get(name);
  if (!template) {
    const source = readFileSync(`${TEMPLATE_ROOT}${name}`, 'utf8');
    for (const [, partial] of source.matchAll(PARTIAL)) {
      if (partial !== undefined && !(partial in hbs.partials)) hbs.registerPartial(partial, compiled(`${partial}.hbs`));
    }
    template = hbs.compile(source, { noEscape: true, strict: true });
    cache.set(name, template);
  }
  return template;
}

/** Renders templates/<name> (e.g. "postfix/main.cf.hbs") with `data`. */
export function renderTemplate(name: string, data: object): string {
  return compiled(name)(data);
}

export function templateRoot(): string {
  return TEMPLATE_ROOT;
}

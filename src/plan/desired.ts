// What the host must have: the packages, the rendered files and the daemons that must run — all from
// the service descriptors (src/services/).
import type { Init } from '../services/index.js';
import { daemonsFor, dataOfServicesOff, packagesFor, render } from '../services/index.js';
import type { FileSpec, RenderContext } from '../render/index.js';
import type { DesiredState } from './plan.js';

export { MAIN_PROCESS, packagesFor, portsFor } from '../services/index.js';

export function desiredState(ctx: RenderContext, init: Init, files: FileSpec[] = render(ctx)): DesiredState {
  return {
    packages: packagesFor(ctx.config, { release: ctx.release, init }),
    files,
    daemons: daemonsFor(ctx.config),
    dataOff: dataOfServicesOff(ctx.config).map((d) => ({ kind: 'service-data', path: d.path, what: `${d.service}: ${d.what}` })),
  };
}

/** The packages the host may need whatever its init system: what the facts ask about. */
export function possiblePackages(ctx: RenderContext): string[] {
  const host = (init: Init) => packagesFor(ctx.config, { release: ctx.release, init });
  return [...new Set([...host('systemd'), ...host('sysv')])];
}

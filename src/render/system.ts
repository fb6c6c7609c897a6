// The host itself: how package upgrades treat the configuration files mailrig renders.
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

/** apt's setting that makes dpkg keep changed configuration files without asking. */
export const APT_CONFFILES = '/etc/apt/apt.conf.d/90mailrig-conffiles';

export function renderSystem(_ctx: RenderContext): FileSpec[] {
  // apt reads it at its next run: nothing to reload.
  return [filesOf('system')(APT_CONFFILES, renderTemplate('system/apt-conffiles.hbs', {}))];
}

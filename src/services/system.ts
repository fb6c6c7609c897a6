// What apply itself uses on the host (ss for the health probe, pgrep for the facts), and how apt
// treats the configuration files mailrig renders.
import { renderSystem } from '../render/system.js';
import type { ServiceDescriptor } from './types.js';

export const system: ServiceDescriptor = {
  name: 'system',
  packages: () => ['iproute2', 'procps'],
  render: renderSystem,
};

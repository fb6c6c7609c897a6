// What apply itself uses on the host: ss for the health probe, pgrep for the facts.
import type { ServiceDescriptor } from './types.js';

export const system: ServiceDescriptor = {
  name: 'system',
  packages: () => ['iproute2', 'procps'],
};

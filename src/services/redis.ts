// Redis: rspamd's statistics and caches, on loopback only.
import { renderRedis } from '../render/redis.js';
import type { ServiceDescriptor } from './types.js';

export const redis: ServiceDescriptor = {
  name: 'redis',
  packages: () => ['redis-server'],
  render: renderRedis,
  daemon: {
    unit: 'redis-server',
    mainProcess: 'redis-server',
    validate: 'true',
    ports: () => [6379],
    consumesTls: false,
  },
};

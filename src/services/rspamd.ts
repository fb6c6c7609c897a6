// rspamd: spam filtering and DKIM signing as Postfix's milter; its controller behind nginx.
import { renderRspamd } from '../render/rspamd.js';
import type { ServiceDescriptor } from './types.js';

export const rspamd: ServiceDescriptor = {
  name: 'rspamd',
  packages: () => ['rspamd'],
  render: renderRspamd,
  daemon: {
    unit: 'rspamd',
    mainProcess: 'rspamd',
    // Without network rspamd warns about resolving fuzzy1.rspamd.com: only the exit code counts.
    validate: 'rspamadm configtest >/dev/null',
    ports: () => [11332],
    consumesTls: false,
    // rspamd reloads by starting new workers and letting the old ones finish: until they have gone, the
    // old configuration (DKIM keys included) still signs and scans mail. Wait for them (up to 60 s).
    reload: {
      before: 'main=$(pgrep -o -x rspamd); old=$(pgrep -P "$main" | tr "\\n" " ")',
      after: 'for i in $(seq 1 120); do alive=; for p in $old; do kill -0 "$p" 2>/dev/null && alive=1; done; [ -z "$alive" ] && break; sleep 0.5; done',
    },
    // The very first start compiles the Hyperscan pattern cache in the main process, whose heap then
    // stays grown — about 200 MB more, inherited by every worker. A restart once the cache files exist
    // starts lean. Best effort: without the cache (a CPU without Hyperscan support) nothing happens.
    afterFirstStart: (restart) => ({
      message: 'restarting rspamd once on its compiled pattern cache (it frees about 200 MB)',
      script: [
        'for i in $(seq 1 120); do ls /var/lib/rspamd/*.hs* >/dev/null 2>&1 && break; sleep 0.5; done',
        `if ls /var/lib/rspamd/*.hs* >/dev/null 2>&1; then ${restart}; fi`,
      ].join('\n'),
    }),
  },
};

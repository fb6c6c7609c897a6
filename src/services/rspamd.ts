// rspamd: spam filtering and DKIM signing as Postfix's milter; its controller behind nginx.
import { RSPAMD_SETTLE, RSPAMD_USER, RSPAMD_WARM_UP, renderRspamd } from '../render/rspamd.js';
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
    // The main process has read its cached Hyperscan databases whole again while reloading: the
    // settle script pages its copy out, as after a start.
    reload: {
      before: 'main=$(pgrep -o -x rspamd); old=$(pgrep -P "$main" | tr "\\n" " ")',
      after: `for i in $(seq 1 120); do alive=; for p in $old; do kill -0 "$p" 2>/dev/null && alive=1; done; [ -z "$alive" ] && break; sleep 0.5; done; ${RSPAMD_SETTLE.script} page-out || true`,
    },
    // The main process must find the URL matcher's Hyperscan database cached, or it compiles it in
    // its own heap and keeps about 200 MB more for good (see the drop-in's template). systemd runs the
    // warm-up before every start, reboots and package upgrades included; without systemd, apply runs
    // it before it starts or restarts rspamd.
    beforeStartWithoutSystemd: {
      message: 'compiling rspamd\'s pattern cache before its main process starts (up to a minute)',
      script: `runuser -u ${RSPAMD_USER} -- ${RSPAMD_WARM_UP} </dev/null >/dev/null 2>&1 || true`,
    },
    // Every start of rspamd also starts the settle unit, which restarts rspamd once if its hs_helper
    // compiled the Hyperscan cache (its processes would keep the compiler's ~20 MB). Apply waits for
    // it, so that rspamd has settled before the health probe and the first mail.
    afterStartWithSystemd: {
      message: "waiting for rspamd's hs_helper (rspamd restarts once if it compiled its cache)",
      script: `systemctl start ${RSPAMD_SETTLE.unit}.service </dev/null >/dev/null 2>&1 || true`,
    },
  },
};

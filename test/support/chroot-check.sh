#!/usr/bin/env bash
# chroot-check.sh — validate a rendered mailrig tree with the real daemons of a Debian release.
#
#   chroot-check.sh <bookworm|trixie> <tree-dir> [--start]
#
# <tree-dir> mirrors the host root (etc/postfix/main.cf, etc/dovecot/..., ...) plus
# mailrig-manifest.json: [{path, mode:"0640", owner, group, service, onChange}, ...].
#
# The tree is copied into an overlay on top of the cached rootfs (rootfs.sh ensure), so the cache is
# never modified. Everything happens inside fresh pid/mount/net/uts namespaces: when the inner
# process exits, the kernel kills every daemon started in there and drops every mount, so nothing
# can leak (on INT/TERM the outer script kills the namespace first, then removes the temp dir).
# Validators: postconf -n, postfix check, postmap lmdb:, newaliases, doveconf -n,
# rspamadm configtest (a module rule it disables as invalid fails it too), nginx -t,
# unbound-checkconf. With --start the daemons are started through their init scripts and the ports
# in EXPECT_PORTS must be listening.
#
# Environment:
#   EXPECT_PORTS    ports that must listen with --start (default "25 465 587 143 993 4190 80 443 11332 6379")
#   CHECK_HOSTNAME  hostname inside the namespace (default: tree's etc/hostname, else main.cf myhostname,
#                   else mail.example.test)
#   REMOVE_PATHS    space-separated absolute paths to delete from the overlay before checking
#                   (e.g. "/etc/nginx/sites-enabled/default", which apply would delete on a real host)
#   ALLOW_WARNINGS  1 = warnings from postfix check, doveconf and nginx -t are printed but not fatal
#                   (postconf -n warnings are always fatal)
#   START_TIMEOUT   seconds to wait for ports (default 20)
#   TEST_CERTS      space-separated "cert.pem:key.pem" absolute path pairs; each pair missing from the tree
#                   gets a throwaway self-signed ECDSA certificate (stands in for the ACME certificate)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
CACHE_ROOT=${MAILRIG_TEST_CACHE:-/var/cache/mailrig-test}
DEFAULT_PORTS="25 465 587 143 993 4190 80 443 11332 6379"
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "chroot-check: $*" >&2; exit 2; }
say() { echo "chroot-check: $*"; }
usage() { echo "usage: chroot-check.sh <bookworm|trixie> <tree-dir> [--start]" >&2; exit 2; }

# ================================ outer part (host namespaces) ====================================

WORK=
outer_cleanup() {
  local rc=$?
  # Mounts live in the inner mount namespace and vanish with it; refuse to rm through a mount anyway.
  if [[ -n $WORK && -d $WORK ]]; then
    if grep -q " $WORK/" /proc/self/mounts; then
      echo "chroot-check: WARNING: mounts left under $WORK, not removing it" >&2
    else
      rm -rf --one-file-system "$WORK"
    fi
  fi
  exit "$rc"
}

# Manifest → TSV (path, mode, owner, group, onChange), validated. Node is always there in this project.
manifest_tsv() {
  node -e '
    const fs = require("fs");
    const file = process.argv[1];
    let m;
    try { m = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { console.error(`${file}: ${e.message}`); process.exit(1); }
    if (!Array.isArray(m)) { console.error(`${file}: not a JSON array`); process.exit(1); }
    const bad = (i, why) => { console.error(`${file}[${i}]: ${why}`); process.exit(1); };
    m.forEach((e, i) => {
      if (typeof e.path !== "string" || !e.path.startsWith("/") || /[\t\n]|(^|\/)\.\.(\/|$)/.test(e.path)) bad(i, "bad path " + JSON.stringify(e.path));
      if (e.mode !== undefined && !/^0?[0-7]{3,4}$/.test(String(e.mode))) bad(i, "bad mode " + JSON.stringify(e.mode));
      for (const k of ["owner", "group"]) if (e[k] !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(e[k])) bad(i, `bad ${k}`);
      const onChange = Array.isArray(e.onChange) ? e.onChange.join(",") : (e.onChange ?? "");
      console.log([e.path, e.mode ?? "", e.owner ?? "", e.group ?? "", onChange].join("\t"));
    });
  ' "$1"
}

outer_main() {
  [[ $# -ge 2 && $# -le 3 ]] || usage
  local release=$1 tree=$2 start=no
  case $release in bookworm|trixie) ;; *) usage ;; esac

  if [[ $# == 3 ]]; then [[ $3 == --start ]] || usage; start=yes; fi
  [[ $(id -u) == 0 ]] || die "must run as root"
  [[ -d $tree ]] || die "tree '$tree' is not a directory"
  tree=$(cd "$tree" && pwd)

  local lower
  lower=$("$HERE/rootfs.sh" ensure "$release")
  # Hold a shared lock for the whole run so rootfs.sh cannot swap the lowerdir away under us.
  exec 8<"$CACHE_ROOT/rootfs/.$release.lock"
  flock -s 8
  [[ -f $lower/.mailrig-rootfs-stamp ]] || die "rootfs $lower vanished"

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailrig-check.$release.XXXXXX")
  trap outer_cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir "$WORK/upper" "$WORK/work" "$WORK/merged" "$WORK/logs"
  if [[ -f $tree/mailrig-manifest.json ]]; then
    manifest_tsv "$tree/mailrig-manifest.json" >"$WORK/manifest.tsv" || die "invalid manifest"
  else
    say "no mailrig-manifest.json in $tree: copying the tree without modes/owners"
    : >"$WORK/manifest.tsv"
  fi

  # --kill-child: if unshare dies, its child (the namespace's init) is SIGKILLed, and with it every
  # daemon and mount in there. On INT/TERM we kill unshare and wait, so the temp dir is removed only
  # once nothing uses it.
  local rc=0
  unshare --pid --fork --kill-child --mount --propagation private --net --uts --ipc \
    -- "$SELF" __inner "$release" "$lower" "$tree" "$WORK" "$start" &
  UNSHARE_PID=$!
  trap 'kill -TERM "$UNSHARE_PID" 2>/dev/null; wait "$UNSHARE_PID" 2>/dev/null; exit 130' INT TERM
  wait "$UNSHARE_PID" || rc=$?
  return "$rc"
}

# ================================ inner part (new namespaces, PID 1) ==============================

MERGED=
in_root() { env -i PATH=$CHROOT_PATH LC_ALL=C.UTF-8 HOME=/root TERM=dumb chroot "$MERGED" "$@"; }

setup_root() {
  local lower=$1 work=$2
  MERGED=$work/merged
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$MERGED"
  mount -t proc proc "$MERGED/proc"
  # A minimal /dev: only the character devices daemons open, not the host's disks.
  mount -t tmpfs -o mode=0755,nosuid,size=1m devtmp "$MERGED/dev"
  local spec name major minor
  for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$spec"
    mknod -m 0666 "$MERGED/dev/$name" c "$major" "$minor"
  done
  mkdir -m 1777 "$MERGED/dev/shm"
  ln -s /proc/self/fd "$MERGED/dev/fd"
  ln -s /proc/self/fd/0 "$MERGED/dev/stdin"; ln -s /proc/self/fd/1 "$MERGED/dev/stdout"; ln -s /proc/self/fd/2 "$MERGED/dev/stderr"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$MERGED/tmp"
  # minbase has no /etc/mtab; doveconf complains "setmntent(/etc/mtab) failed" without it.
  [[ -e $MERGED/etc/mtab || -L $MERGED/etc/mtab ]] || ln -s ../proc/self/mounts "$MERGED/etc/mtab"
}

# The vmail user owns the mail store; always present so templates and manifests can rely on it.
ensure_vmail() {
  in_root getent group vmail >/dev/null || in_root groupadd -g 5000 vmail
  in_root getent passwd vmail >/dev/null ||
    in_root useradd -u 5000 -g vmail -d /var/vmail -m -s /usr/sbin/nologin vmail
}

# A tree with calendars and contacts names the radicale user (Dovecot's listener for it, the owner of
# /etc/radicale/config): made as Debian's package makes it. Radicale itself is not in the root
# filesystem, so its configuration is not validated here (the host runs radicale --verify-storage).
ensure_radicale_user() {
  [[ -d $1/etc/radicale ]] || return 0
  in_root getent passwd radicale >/dev/null ||
    in_root useradd --system --user-group -d /var/lib/radicale -M -s /usr/sbin/nologin radicale
}

copy_tree() {
  local tree=$1 p
  # Existing directories keep their metadata (/etc stays root 0755); files become root-owned until
  # the manifest says otherwise.
  tar -C "$tree" --exclude=./mailrig-manifest.json -cf - . |
    tar -C "$MERGED" --no-same-owner --no-overwrite-dir -xf -
  for p in ${REMOVE_PATHS:-}; do
    [[ $p == /* && $p != *..* ]] || die "REMOVE_PATHS entry '$p' must be absolute"
    rm -rf -- "${MERGED:?}$p"
  done
}

make_test_certs() {
  local pair cert key
  for pair in ${TEST_CERTS:-}; do
    cert=${pair%%:*} key=${pair#*:}
    [[ $cert == /* && $key == /* && $pair == *:* ]] || die "TEST_CERTS entry '$pair' must be /cert:/key"
    [[ -e $MERGED$cert && -e $MERGED$key ]] && continue
    mkdir -p "$(dirname "$MERGED$cert")" "$(dirname "$MERGED$key")"
    in_root openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj "/CN=mail.example.test" -keyout "$key" -out "$cert" 2>/dev/null
    chmod 0600 "$MERGED$key"
    say "TEST_CERTS: made self-signed $cert + $key"
  done
}

# One shell in the chroot for the whole manifest (owners resolve against the chroot's passwd): one
# chown per owner and one chmod per mode, modes last (chown clears set-id bits). A failing command
# names its paths on stderr.
apply_manifest() {
  local tsv=$1 path mode owner group onchange errors=0 key q script
  local -A by_owner=() by_mode=()
  while IFS=$'\t' read -r path mode owner group onchange; do
    if [[ ! -e $MERGED$path && ! -L $MERGED$path ]]; then
      echo "manifest: $path is listed but not in the tree" >&2; errors=1; continue
    fi
    printf -v q ' %q' "$path"
    if [[ -n $owner || -n $group ]]; then by_owner[${owner}${group:+:$group}]+=$q; fi
    if [[ -n $mode ]]; then by_mode[$mode]+=$q; fi
  done <"$tsv"
  script='rc=0'
  for key in "${!by_owner[@]}"; do printf -v q '%q' "$key"; script+=$'\n'"chown -h -- $q${by_owner[$key]} || rc=1"; done
  for key in "${!by_mode[@]}"; do printf -v q '%q' "$key"; script+=$'\n'"chmod -- $q${by_mode[$key]} || rc=1"; done
  script+=$'\nexit $rc'
  in_root bash -c "$script" || errors=1
  return "$errors"
}

# --- validators ------------------------------------------------------------------------------------
FAILED=()
LOGS=

# run_validator <name> <judge> <cmd...>: runs cmd in the chroot, prints its output, lets judge decide.
run_validator() {
  local name=$1 judge=$2; shift 2
  local out="$LOGS/$name.out" err="$LOGS/$name.err" rc=0
  in_root "$@" >"$out" 2>"$err" </dev/null || rc=$?
  echo "----- $name (exit $rc): $*"
  [[ -s $out ]] && sed 's/^/  | /' "$out"
  [[ -s $err ]] && awk '!seen[$0]++ { print "  ! " $0 }' "$err"   # postfix repeats warnings per call
  if "$judge" "$rc" "$out" "$err"; then
    echo "----- $name: OK"
  else
    echo "----- $name: FAILED"
    FAILED+=("$name")
  fi
}

has_warning() { grep -qiE "$2" "$1"; }
judge_rc_nowarn_strict() { [[ $1 == 0 ]] && ! has_warning "$3" 'warning'; }
judge_rc_nowarn() { [[ $1 == 0 ]] && { [[ ${ALLOW_WARNINGS:-0} == 1 ]] || ! has_warning "$3" "$4"; }; }
judge_postfix_check() { judge_rc_nowarn "$1" "$2" "$3" 'warning'; }
judge_doveconf() { judge_rc_nowarn "$1" "$2" "$3" 'warning'; }
judge_nginx() { judge_rc_nowarn "$1" "$2" "$3" '\[warn\]'; }
judge_unbound() { [[ $1 == 0 ]] && grep -q 'no errors' "$2"; }
judge_rspamd() {
  # No network in here: fuzzy1.rspamd.com never resolves; that is not a config error.
  # A module that refuses a rule's settings logs "invalid config for <rule>: …" (rbl adds "RBL is
  # DISABLED") and drops the rule, yet configtest still says "syntax OK" and exits 0.
  [[ $1 == 0 ]] && grep -q 'syntax OK' "$2" "$3" && ! has_warning "$2" 'invalid config for|is DISABLED' && ! has_warning "$3" 'invalid config for|is DISABLED'
}

tree_has() { [[ -e $TREE/$1 ]]; }

run_validators() {
  local tsv=$1 path onchange
  if tree_has etc/postfix; then
    while IFS=$'\t' read -r path _ _ _ onchange; do
      [[ ,$onchange, == *,postmap,* ]] || continue
      run_validator "postmap:$(basename "$path")" judge_rc_nowarn_strict postmap "lmdb:$path"
    done <"$tsv"
    if [[ -f $MERGED/etc/aliases ]]; then
      run_validator newaliases judge_rc_nowarn_strict newaliases
    fi
    run_validator postconf-n judge_rc_nowarn_strict postconf -n
    run_validator postfix-check judge_postfix_check postfix check
  else
    say "SKIP postfix validators: tree has no etc/postfix"
  fi
  if tree_has etc/dovecot; then
    run_validator doveconf-n judge_doveconf doveconf -n
    # -x opens every file setting (certs, keys): catches 2.4's "ssl_server_cert_file = </path",
    # which -n accepts but dovecot refuses at start. Output discarded: it contains private keys.
    run_validator doveconf-x judge_doveconf sh -c 'doveconf -n -x >/dev/null'

  else
    say "SKIP doveconf: tree has no etc/dovecot"
  fi
  if tree_has etc/rspamd; then
    run_validator rspamadm-configtest judge_rspamd rspamadm configtest
    # Drop the expected no-network noise from the failure summary.
    sed -i -E '/fuzzy[0-9]*\.rspamd\.com|cannot parse resolv\.conf|cannot read servers definition/d' \
      "$LOGS/rspamadm-configtest.err" "$LOGS/rspamadm-configtest.out"
  else
    say "SKIP rspamadm configtest: tree has no etc/rspamd"
  fi
  if tree_has etc/nginx; then
    run_validator nginx-t judge_nginx nginx -t
  else
    say "SKIP nginx -t: tree has no etc/nginx"
  fi
  if tree_has etc/unbound; then
    run_validator unbound-checkconf judge_unbound unbound-checkconf /etc/unbound/unbound.conf
  else
    say "SKIP unbound-checkconf: tree has no etc/unbound"
  fi
}

# --- --start -----------------------------------------------------------------------------------------
# The resolver first, as on a host (rspamd and Postfix resolve names through it).
SERVICES=(unbound redis-server rspamd dovecot postfix nginx)

# rspamd compiles its hyperscan databases in the main process before it daemonizes: ~25 s of CPU
# on a fresh /var/lib/rspamd, over a minute on a busy machine. The files are content-addressed
# (rspamd drops stale ones itself), so keep them per release between runs.
hs_cache() { echo "$CACHE_ROOT/rspamd-hs/$RELEASE"; }
restore_rspamd_cache() {
  local c; c=$(hs_cache)
  mkdir -p "$c"
  compgen -G "$c/*.hs*" >/dev/null || return 0
  # A parallel run may prune the cache meanwhile: a file missing here only costs compile time.
  cp -p "$c"/*.hs* "$MERGED/var/lib/rspamd/" 2>/dev/null || true
  in_root sh -c 'chown _rspamd:_rspamd /var/lib/rspamd/*.hs*' || true
}
# rspamd deletes the databases the running config doesn't use, so what is left is exactly this
# config's set: add new ones, mark the others used (mtime), and prune what no run used lately.
save_rspamd_cache() {
  local c f tmp used=(); c=$(hs_cache)
  for f in "$MERGED"/var/lib/rspamd/*.hs*; do
    [[ -f $f ]] || continue
    if [[ -e $c/${f##*/} ]]; then used+=("$c/${f##*/}"); continue; fi
    # Write under a temp name and rename: a parallel run never sees a half-copied file.
    tmp=$(mktemp "$c/.tmp.XXXXXX") && cp "$f" "$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$c/${f##*/}"
  done
  # One touch for all of them: a hundred files, a hundred forks otherwise. A file pruned meanwhile by
  # a parallel run is simply not recreated (-c).
  ((${#used[@]} == 0)) || touch -c -- "${used[@]}"
  find "$c" -maxdepth 1 -type f -mmin +2880 -delete
  # Keep at most ~300 MB: drop least recently used files first.
  local total
  total=$(du -sm "$c" | cut -f1)
  if ((total > 300)); then
    find "$c" -maxdepth 1 -type f -printf '%T@ %p\n' | sort -n | head -n "$(($(find "$c" -maxdepth 1 -type f | wc -l) / 2))" |
      cut -d' ' -f2- | xargs -r rm -f
  fi
}

service_for_port() {
  case $1 in
    25|465|587|10025|10026) echo postfix ;;
    110|143|993|995|4190|24) echo dovecot ;;
    80|443) echo nginx ;;
    1133[0-9]) echo rspamd ;;
    6379) echo redis-server ;;
    53) echo unbound ;;
    *) echo unknown ;;
  esac
}

pick_hostname() {
  if [[ -n ${CHECK_HOSTNAME:-} ]]; then echo "$CHECK_HOSTNAME"; return; fi
  if [[ -s $TREE/etc/hostname ]]; then head -n1 "$TREE/etc/hostname"; return; fi
  local h
  h=$(grep -E '^\s*myhostname\s*=' "$MERGED/etc/postfix/main.cf" 2>/dev/null | tail -n1 | sed -E 's/^[^=]*=\s*//; s/\s+$//') || true
  if [[ -n $h && $h != *'$'* ]]; then echo "$h"; else echo mail.example.test; fi
}

# No syslog daemon in the chroot: catch /dev/log datagrams so postfix/dovecot syslog output is kept.
start_syslog_catcher() {
  if command -v python3 >/dev/null; then
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$MERGED/dev/log" "$LOGS/syslog" </dev/null >/dev/null 2>&1 &
  fi
}

start_services() {
  rm -f "$MERGED/usr/sbin/policy-rc.d"   # the cache keeps it so the build never started anything
  local host
  host=$(pick_hostname)
  echo "$host" >/proc/sys/kernel/hostname
  grep -qw -- "$host" "$MERGED/etc/hosts" 2>/dev/null || echo "127.0.1.1 $host ${host%%.*}" >>"$MERGED/etc/hosts"
  say "hostname $host"
  restore_rspamd_cache
  # Daemons start only once every validator passed, postfix check among them (its warnings fatal):
  # starting, postfix-script would run the same check-fatal and check-warn again on the same files.
  # quick-start is postfix's own marker for "checked already"; start removes it.
  if tree_has etc/postfix; then
    touch "$MERGED$(in_root postconf -h queue_directory)/quick-start"
  fi
  local s rc t0
  for s in "${SERVICES[@]}"; do
    [[ $s != unbound ]] || tree_has etc/unbound || continue
    rc=0 t0=$SECONDS
    if [[ -x $MERGED/etc/init.d/$s ]]; then
      # Streams go to a file, never to our stdout: a daemon holding our pipe would hang callers.
      timeout 180 env -i PATH=$CHROOT_PATH LC_ALL=C.UTF-8 TERM=dumb chroot "$MERGED" service "$s" start \
        </dev/null >"$LOGS/start-$s.log" 2>&1 || rc=$?
    else
      echo "no /etc/init.d/$s" >"$LOGS/start-$s.log"; rc=127
    fi
    say "service $s start: exit $rc ($((SECONDS - t0)) s)"

    [[ $rc == 0 ]] || sed 's/^/  ! /' "$LOGS/start-$s.log"
  done
}

listening_ports() { ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }' | sort -un; }

# The process that stays up while a service runs (every init script here returns after its
# daemon has detached, so a service without it has died).
daemon_process() {
  case $1 in
    postfix) echo master ;;
    *) echo "$1" ;;
  esac
}

# Waits until every expected port listens, or until the daemon that should open a missing port has
# exited (it never will then). START_TIMEOUT only bounds a daemon that runs but never listens.
wait_for_ports() {
  local deadline=$((SECONDS + ${START_TIMEOUT:-120})) p missing dead up svc
  while :; do
    missing=() dead=no
    up=$(listening_ports)
    for p in $EXPECT; do grep -qx "$p" <<<"$up" || missing+=("$p"); done
    [[ ${#missing[@]} == 0 || $SECONDS -ge $deadline ]] && break
    for p in "${missing[@]}"; do
      svc=$(service_for_port "$p")
      [[ $svc == unknown ]] && continue   # whose port it is, we cannot tell: wait for it
      in_root pgrep -x "$(daemon_process "$svc")" >/dev/null || dead=yes
    done
    [[ $dead == yes ]] && break
    sleep 0.5
  done
  MISSING=("${missing[@]}")
}

show_file() { # <label> <path inside chroot>
  [[ -n $2 && -f $MERGED$2 ]] || return 0
  echo "----- $1 ($2), last 40 lines:"
  tail -n 40 "$MERGED$2" | sed 's/^/  | /'
}

dump_logs() {
  local svc=$1 f
  echo "===== logs for $svc"
  [[ -s $LOGS/start-$svc.log ]] && { echo "----- service $svc start output:"; awk '!seen[$0]++ { print "  | " $0 }' "$LOGS/start-$svc.log"; }
  case $svc in
    postfix)
      f=$(in_root postconf -h maillog_file 2>/dev/null) || true
      show_file "postfix maillog_file" "$f" ;;
    dovecot)
      for f in $(in_root doveconf -h log_path info_log_path 2>/dev/null | grep '^/' | sort -u); do show_file "dovecot log" "$f"; done ;;
    rspamd) show_file "rspamd log" /var/log/rspamd/rspamd.log ;;
    redis-server) show_file "redis log" /var/log/redis/redis-server.log ;;
    nginx) show_file "nginx error log" /var/log/nginx/error.log ;;
  esac
  foreground_probe "$svc"
}

# Why is a port missing? If the daemon runs, show what it is configured to listen on; if it does not,
# run it in the foreground for a few seconds: the quickest way to see why it won't start.
foreground_probe() {
  local -a cmd
  local proc
  proc=$(daemon_process "$1")
  if in_root pgrep -x "$proc" >/dev/null; then
    echo "----- $1 is running; its listeners:"
    case $1 in
      postfix) in_root postconf -M 2>&1 | grep -E '^\S+\s+inet\s' | sed 's/^/  | /' ;;
      dovecot) in_root doveconf -n 2>&1 | grep -E 'inet_listener|port =|listen' | sed 's/^/  | /' ;;
      nginx) in_root nginx -T 2>/dev/null | grep -E '^\s*listen\s' | sed 's/^/  | /' ;;
      rspamd) in_root rspamadm configdump worker 2>/dev/null | grep -E 'bind_socket' | sed 's/^/  | /' ;;
      *) ;;
    esac
    return 0
  fi

  case $1 in
    postfix) cmd=(postfix start-fg) ;;
    dovecot) cmd=(dovecot -F) ;;
    rspamd) cmd=(rspamd -f -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf) ;;
    redis-server) cmd=(redis-server /etc/redis/redis.conf --daemonize no --logfile "") ;;
    nginx) cmd=(nginx -g "daemon off;") ;;
    *) return 0 ;;
  esac
  echo "----- foreground probe (5 s): ${cmd[*]}"
  timeout -k 1 5 env -i PATH=$CHROOT_PATH LC_ALL=C.UTF-8 chroot "$MERGED" "${cmd[@]}" </dev/null 2>&1 |
    tail -n 40 | sed 's/^/  | /' || true
}

check_ports() {
  EXPECT=${EXPECT_PORTS:-$DEFAULT_PORTS}
  wait_for_ports
  echo "----- listening TCP sockets (ss -ltnp):"
  in_root ss -ltnp | sed 's/^/  | /'
  [[ -s $LOGS/syslog ]] && { echo "----- syslog (/dev/log), last 60 lines:"; tail -n 60 "$LOGS/syslog" | sed 's/^/  | /'; }
  if [[ ${#MISSING[@]} == 0 ]]; then say "all expected ports listening: $EXPECT"; return 0; fi
  local p svcs=()
  for p in "${MISSING[@]}"; do
    say "port $p NOT listening (expected from $(service_for_port "$p"))"
    svcs+=("$(service_for_port "$p")")
  done
  FAILED+=("ports:${MISSING[*]}")
  local s
  for s in $(printf '%s\n' "${svcs[@]}" | sort -u); do dump_logs "$s"; done
}

inner_main() {
  local release=$1 lower=$2 work=$4 start=$5
  RELEASE=$release

  TREE=$3 LOGS=$work/logs
  setup_root "$lower" "$work"
  # Postfix tools refuse to run without an active interface ("could not find any active network
  # interfaces"); the fresh net namespace only has lo, and it starts down.
  ip link set lo up
  start_syslog_catcher
  ensure_vmail
  ensure_radicale_user "$TREE"
  copy_tree "$TREE"
  make_test_certs
  if ! apply_manifest "$work/manifest.tsv"; then FAILED+=(manifest); fi
  say "release $release, tree $TREE"
  run_validators "$work/manifest.tsv"
  if [[ $start == yes && ${#FAILED[@]} -gt 0 ]]; then
    say "not starting daemons: validators failed"
  elif [[ $start == yes ]]; then
    start_services
    check_ports
    save_rspamd_cache || say "note: could not update the rspamd hyperscan cache"   # never fails a check
  fi
  if [[ ${#FAILED[@]} -gt 0 ]]; then
    echo
    echo "chroot-check: FAILED on $release: ${FAILED[*]}" >&2
    local n
    for n in "${FAILED[@]}"; do
      [[ -s $LOGS/$n.err ]] && { echo "  $n stderr:" >&2; awk '!seen[$0]++ { print "    " $0 }' "$LOGS/$n.err" >&2; }
    done
    # Some tools (postfix-script) report only through syslog.
    if [[ $start == no && -s $LOGS/syslog ]]; then
      echo "  syslog (/dev/log), last 30 lines:" >&2; tail -n 30 "$LOGS/syslog" | sed 's/^/    /' >&2
    fi
    return 1
  fi
  say "OK: all checks passed on $release"
}

if [[ ${1:-} == __inner ]]; then
  shift
  inner_main "$@"
else
  outer_main "$@"
fi

#!/usr/bin/env bash
# testhost.sh — the root-only half of the end-to-end test host (test/support/testhost.ts drives it).
#
#   testhost.sh base <bookworm|trixie>         print the cached base rootfs, building it if missing/outdated
#   testhost.sh prepare <dir> <release> <name> overlay root, keys, users, network; prints KEY=value lines
#   testhost.sh stop <dir>                     tear down one host (idempotent; safe from an exit handler)
#   testhost.sh cleanup-stale                  tear down hosts whose owning process is gone
#
# A host is: an overlay root in <dir> (/tmp/mailrig-host-XXXX) over the cached base, a network
# namespace mailrig-<name> with a veth pair on 10.231.<n>.0/24 (.1 here, .2 inside), NAT out for apt.
# Its init (sshd under pid/mount/uts namespaces) is started by testhost.ts so that node owns the process.
# Every change to this machine is recorded in <dir>/state so that stop undoes exactly that.
set -euo pipefail

CACHE_ROOT=${MAILRIG_TEST_CACHE:-/var/cache/mailrig-test}
MIRROR=${MAILRIG_TEST_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${MAILRIG_TEST_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
RUN_DIR=/run/mailrig-testhost          # lock and the ip_forward value to restore
SUBNET_PREFIX=10.231                   # 10.231.<n>.0/24, n = 1..250, one per running host
RULE_COMMENT=mailrig-testhost          # every iptables rule we add carries this (plus :<name>)
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# What a fresh VPS image has beyond minbase that matters to mailrig: sshd, sudo, CA roots, ip, ps,
# /etc/services (netbase). The mail packages are NOT here: mailrig must install them over SSH.
BASE_PACKAGES=(openssh-server sudo ca-certificates iproute2 procps netbase)

die() { echo "testhost.sh: $*" >&2; exit 1; }
log() { echo "testhost.sh: $*" >&2; }

# ===================================== base rootfs ===============================================

base_stamp() {
  # Everything that should force a rebuild goes into the hash (bump format= when the recipe changes).
  { echo "release=$1 mirror=$MIRROR security=$SECURITY_MIRROR variant=minbase format=3"
    printf '%s\n' "${BASE_PACKAGES[@]}"; } | sha256sum | cut -d' ' -f1
}

in_root() { # <root> <cmd...>
  local root=$1; shift
  DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=$CHROOT_PATH chroot "$root" "$@"
}

BUILD_DIR=
BUILD_MOUNTS=()
build_cleanup() {
  local i
  for ((i = ${#BUILD_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${BUILD_MOUNTS[i]}" 2>/dev/null || umount -l "${BUILD_MOUNTS[i]}" 2>/dev/null || true
  done
  BUILD_MOUNTS=()
  if [[ -n $BUILD_DIR && -d $BUILD_DIR ]] && ! grep -q " $BUILD_DIR/" /proc/self/mounts; then
    rm -rf --one-file-system "$BUILD_DIR"
  fi
}
build_mount() { # <mount args...> <target>
  mount "$@"
  BUILD_MOUNTS+=("${!#}")
}

build_base() {
  local release=$1 target=$2 stamp=$3
  local debs="$CACHE_ROOT/debs/$release" t0=$SECONDS
  mkdir -p "$debs/partial"
  # The .deb cache is shared with rootfs.sh: two apt-gets on one archives dir fail on its lock, and
  # two debootstraps could write the same file. Builders that share it take this lock.
  exec 7>"$debs/.mailrig-build.lock"
  flock 7
  BUILD_DIR=$(mktemp -d "$(dirname "$target")/.build.XXXXXX")
  trap build_cleanup EXIT
  trap 'exit 130' INT TERM

  log "debootstrap $release (minbase) into $BUILD_DIR"
  debootstrap --variant=minbase --cache-dir="$debs" "$release" "$BUILD_DIR" "$MIRROR" >&2
  # Keep the build from starting sshd; removed again below, since a real host has no such policy.
  printf '#!/bin/sh\nexit 101\n' >"$BUILD_DIR/usr/sbin/policy-rc.d"
  chmod 0755 "$BUILD_DIR/usr/sbin/policy-rc.d"
  build_mount -t proc proc "$BUILD_DIR/proc"
  build_mount --bind /dev "$BUILD_DIR/dev"
  build_mount --bind "$debs" "$BUILD_DIR/var/cache/apt/archives"

  printf 'deb %s %s main\n' "$MIRROR" "$release" "$MIRROR" "$release-updates" \
    "$SECURITY_MIRROR" "$release-security" >"$BUILD_DIR/etc/apt/sources.list"
  # Sandbox user root: the bind-mounted .deb cache belongs to this machine's root, not the guest's _apt.
  in_root "$BUILD_DIR" apt-get -o APT::Sandbox::User=root update -q >&2
  in_root "$BUILD_DIR" apt-get -o APT::Sandbox::User=root install -y -q --no-install-recommends \
    "${BASE_PACKAGES[@]}" >&2
  build_cleanup_mounts_only
  configure_base "$BUILD_DIR"

  echo "$stamp" >"$BUILD_DIR/.mailrig-testhost-stamp"
  chmod 0755 "$BUILD_DIR"   # mktemp made it 0700; daemons running as their own users must traverse /
  local old=
  if [[ -e $target ]]; then old=$(mktemp -d "$(dirname "$target")/.old.XXXXXX"); mv -T "$target" "$old/x"; fi
  mv -T "$BUILD_DIR" "$target"   # atomic: readers see the old base or the complete new one
  BUILD_DIR=
  [[ -n $old ]] && rm -rf --one-file-system "$old"
  trap - EXIT INT TERM
  flock -u 7
  log "built $release base in $((SECONDS - t0)) s"
}

build_cleanup_mounts_only() {
  local dir=$BUILD_DIR
  BUILD_DIR=
  build_cleanup
  BUILD_DIR=$dir
}

configure_base() {
  local root=$1
  rm -f "$root/usr/sbin/policy-rc.d"
  # Host keys are made fresh at every start (ssh-keygen -A), so no two hosts share one.
  rm -f "$root"/etc/ssh/ssh_host_*
  cat >"$root/etc/ssh/sshd_config.d/mailrig-testhost.conf" <<'EOF'
# Test host: keys only, as a hardened VPS would be.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
  # pam_loginuid fails inside a pid namespace without audit support and would end every session.
  sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' "$root/etc/pam.d/sshd"
  # deploy: the sudo path of the transport. nosudo: the "sudo needs a password" error path.
  # '*' = no password but not locked, so sshd accepts their keys.
  in_root "$root" useradd -m -s /bin/bash -p '*' deploy
  in_root "$root" useradd -m -s /bin/bash -p '*' nosudo
  echo 'deploy ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/deploy"
  chmod 0440 "$root/etc/sudoers.d/deploy"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
}

cmd_base() {
  local release=$1
  case $release in bookworm|trixie) ;; *) die "unsupported release '$release' (bookworm|trixie)" ;; esac
  [[ $(id -u) == 0 ]] || die "must run as root"
  local dir="$CACHE_ROOT/hosts/$release" stamp
  local target="$dir/base"
  stamp=$(base_stamp "$release")
  mkdir -p "$dir"
  exec 9>"$dir/.lock"   # one builder per release; a concurrent caller waits, then reuses the result
  flock 9
  if [[ ! -f $target/.mailrig-testhost-stamp || $(cat "$target/.mailrig-testhost-stamp") != "$stamp" ]]; then
    build_base "$release" "$target" "$stamp"
  fi
  echo "$target"
}

# ===================================== one host ==================================================

state_get() { # <dir> <key>: the last value recorded for key (empty if none)
  [[ -f $1/state ]] || return 0
  sed -n "s/^$2=//p" "$1/state" | tail -n1
}
state_put() { echo "$2=$3" >>"$1/state"; }

with_lock() { # serialises subnet allocation and the shared ip_forward bookkeeping across processes
  mkdir -p "$RUN_DIR"
  (flock 8; "$@") 8>"$RUN_DIR/lock"
}

running_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep '^mailrig-' || true; }

# ip_forward must be on while any test host runs; the first host remembers the value to restore.
forward_on() {
  [[ -f $RUN_DIR/ip_forward.orig ]] || cat /proc/sys/net/ipv4/ip_forward >"$RUN_DIR/ip_forward.orig"
  echo 1 >/proc/sys/net/ipv4/ip_forward
}
forward_restore_if_last() {
  [[ -z $(running_netns) && -f $RUN_DIR/ip_forward.orig ]] || return 0
  cat "$RUN_DIR/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward
  rm -f "$RUN_DIR/ip_forward.orig"
}

free_subnet() {
  local n used
  used=$(ip -4 -o addr show; for ns in $(running_netns); do ip -n "$ns" -4 -o addr show 2>/dev/null; done)
  for ((n = 1; n <= 250; n++)); do
    grep -q " $SUBNET_PREFIX\.$n\." <<<"$used" || { echo "$n"; return; }
  done
  die "no free subnet in $SUBNET_PREFIX.0.0/16"
}

network_up() { # <dir> <name>; runs under with_lock
  local dir=$1 name=$2 n
  local ns="mailrig-$name"
  n=$(free_subnet)
  local net="$SUBNET_PREFIX.$n" veth="mrh$n"
  ip netns add "$ns"
  state_put "$dir" NETNS "$ns"
  ip link add "$veth" type veth peer name "mrg$n"
  state_put "$dir" VETH "$veth"
  ip link set "mrg$n" netns "$ns"
  ip -n "$ns" link set "mrg$n" name eth0
  ip -n "$ns" addr add "$net.2/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip addr add "$net.1/24" dev "$veth"
  ip link set "$veth" up
  ip -n "$ns" route add default via "$net.1"
  forward_on
  local rule="POSTROUTING -s $net.0/24 -m comment --comment $RULE_COMMENT:$name -j MASQUERADE"
  # shellcheck disable=SC2086 # the rule is a word list on purpose
  iptables -t nat -A $rule
  state_put "$dir" RULE "$rule"
  state_put "$dir" ADDRESS "$net.2"
  state_put "$dir" GATEWAY "$net.1"
}

guest_identity() { # <root> <name>: hostname, name resolution
  local root=$1 name=$2
  echo "$name" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$name" >"$root/etc/hosts"
  local ns
  ns=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
  if [[ -n $ns && $ns != 127.* && $ns != ::1 ]]; then
    cat /etc/resolv.conf >"$root/etc/resolv.conf"   # reachable through the NAT like any upstream
  else
    # A loopback resolver is this machine's, not the guest's: pin the archive's addresses instead.
    : >"$root/etc/resolv.conf"
    getent ahostsv4 deb.debian.org | awk '$2 == "STREAM" { print $1 "\tdeb.debian.org" }' >>"$root/etc/hosts"
  fi
}

authorize_key() { # <root> <pubkey file> <user> <home>
  local root=$1 pub=$2 user=$3 home=$4
  install -d -m 0700 "$root$home/.ssh"
  install -m 0600 "$pub" "$root$home/.ssh/authorized_keys"
  in_root "$root" chown -R "$user:" "$home/.ssh"
}

cmd_prepare() {
  local dir=$1 release=$2 name=$3 base
  [[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "bad host name '$name' (a-z, 0-9, -; at most 31)"
  [[ -d $dir && $dir == /tmp/mailrig-host-* ]] || die "bad host dir '$dir'"
  ip netns list | awk '{print $1}' | grep -qx "mailrig-$name" && die "a test host named $name is running"
  state_put "$dir" OWNER "${MAILRIG_TESTHOST_OWNER:-$PPID}"
  base=$(cmd_base "$release")
  mkdir -p "$dir/upper" "$dir/work" "$dir/root"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
  state_put "$dir" MOUNTED 1
  local root=$dir/root

  ssh-keygen -q -t ed25519 -N '' -C "mailrig-testhost-$name" -f "$dir/id_ed25519"
  authorize_key "$root" "$dir/id_ed25519.pub" root /root
  authorize_key "$root" "$dir/id_ed25519.pub" deploy /home/deploy
  authorize_key "$root" "$dir/id_ed25519.pub" nosudo /home/nosudo
  guest_identity "$root" "$name"
  # Fresh host keys per start. No RSA key: generating one takes seconds, and ed25519 is what
  # both ssh2 and OpenSSH negotiate first.
  local t
  for t in ed25519 ecdsa; do
    in_root "$root" ssh-keygen -q -t "$t" -N '' -C "root@$name" -f "/etc/ssh/ssh_host_${t}_key"
  done

  with_lock network_up "$dir" "$name"
  local address
  address=$(state_get "$dir" ADDRESS)
  : >"$dir/known_hosts"
  for t in ed25519 ecdsa; do
    [[ -f $root/etc/ssh/ssh_host_${t}_key.pub ]] || continue
    echo "$address $(cut -d' ' -f1,2 "$root/etc/ssh/ssh_host_${t}_key.pub")" >>"$dir/known_hosts"
  done
  echo "ADDRESS=$address"
  echo "GATEWAY=$(state_get "$dir" GATEWAY)"
  echo "NETNS=$(state_get "$dir" NETNS)"
  echo "VETH=$(state_get "$dir" VETH)"
  echo "WORK_DIR=$dir"
  echo "ROOT=$root"
  echo "KEY_FILE=$dir/id_ed25519"
  echo "KNOWN_HOSTS=$dir/known_hosts"
  echo "FINGERPRINT=$(ssh-keygen -l -E sha256 -f "$root/etc/ssh/ssh_host_ed25519_key.pub" | awk '{print $2}')"
}

kill_netns_processes() { # <netns>: every process in it, which includes the host's whole pid namespace
  local ns=$1 i pids
  for ((i = 0; i < 50; i++)); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -z $pids ]] && return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  log "processes still alive in $ns: $pids"
}

unmount_under() { # <dir>: deepest first, lazily if busy
  local dir=$1 m
  for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
  done
}

delete_rules() { # <comment>: every nat rule carrying exactly this comment
  local comment=$1 line
  while read -r line; do
    [[ -n $line ]] || continue
    line=${line//\"/}   # iptables -S quotes comments with ":"; ours have no spaces, so drop the quotes
    # shellcheck disable=SC2086
    iptables -t nat ${line/#-A /-D } 2>/dev/null || true
  done < <(iptables -t nat -S POSTROUTING | tr -d '"' | grep -- "--comment $comment " || true)
}

cmd_stop() {
  local dir=$1 ns veth rule
  [[ $dir == /tmp/mailrig-host-* ]] || die "bad host dir '$dir'"
  ns=$(state_get "$dir" NETNS)
  veth=$(state_get "$dir" VETH)
  rule=$(state_get "$dir" RULE)
  [[ -n $ns ]] && kill_netns_processes "$ns"
  unmount_under "$dir"
  if [[ -n $ns ]]; then ip netns del "$ns" 2>/dev/null || true; fi
  if [[ -n $veth ]] && ip link show "$veth" >/dev/null 2>&1; then ip link del "$veth" || true; fi
  if [[ -n $rule ]]; then
    # shellcheck disable=SC2086
    while iptables -t nat -C $rule 2>/dev/null; do iptables -t nat -D $rule; done
  fi
  with_lock forward_restore_if_last
  if [[ -d $dir ]] && ! grep -q " $dir/" /proc/self/mounts; then rm -rf --one-file-system "$dir"; fi
}

host_is_live() { # <dir>: its owning process still runs
  local owner
  owner=$(state_get "$1" OWNER)
  if [[ -z $owner ]]; then
    # prepare writes OWNER first; a very young dir without it may be mid-creation by another run
    [[ -z $(find "$1" -maxdepth 0 -mmin +1) ]]
    return
  fi
  kill -0 "$owner" 2>/dev/null
}

cmd_cleanup_stale() {
  local dir ns live_ns=" "
  for dir in /tmp/mailrig-host-*; do
    [[ -d $dir ]] || continue
    if host_is_live "$dir"; then live_ns+="$(state_get "$dir" NETNS) "; continue; fi
    log "removing stale test host $dir"
    cmd_stop "$dir"
  done
  for ns in $(running_netns); do
    [[ $live_ns == *" $ns "* ]] && continue
    log "removing stale namespace $ns"
    kill_netns_processes "$ns"
    ip netns del "$ns" 2>/dev/null || true
  done
  local comment
  for comment in $(iptables -t nat -S POSTROUTING | tr -d '"' | grep -o -- "--comment $RULE_COMMENT:[a-z0-9-]*" | awk '{print $2}' | sort -u); do
    [[ $live_ns == *" mailrig-${comment#"$RULE_COMMENT:"} "* ]] && continue
    log "removing stale iptables rule $comment"
    delete_rules "$comment"
  done
  with_lock forward_restore_if_last
}

case ${1:-} in
  base) [[ $# == 2 ]] || die "usage: testhost.sh base <release>"; cmd_base "$2" ;;
  prepare) [[ $# == 4 ]] || die "usage: testhost.sh prepare <dir> <release> <name>"; cmd_prepare "$2" "$3" "$4" ;;
  stop) [[ $# == 2 ]] || die "usage: testhost.sh stop <dir>"; cmd_stop "$2" ;;
  cleanup-stale) cmd_cleanup_stale ;;
  *) echo "usage: testhost.sh base|prepare|stop|cleanup-stale ..." >&2; exit 2 ;;
esac

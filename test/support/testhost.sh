#!/usr/bin/env bash
# testhost.sh — the root-only half of the end-to-end test host (test/support/testhost.ts drives it).
#
#   testhost.sh base <bookworm|trixie>         print the cached base image, building it if missing/outdated
#   testhost.sh prepare <dir> <release> <name> [<layer>]
#                                              overlay root, keys, users, network; prints KEY=value lines.
#                                              <layer>: a directory laid over the base image, read-only
#                                              (the upper dir of a host provisioned once, kept in the cache)
#   testhost.sh boot <dir> <systemd|sshd>      becomes the host: its namespaces, mounts and PID 1
#   testhost.sh stop <dir>                     tear down one host (idempotent; safe from an exit handler)
#   testhost.sh cleanup-stale                  tear down hosts whose owning process is gone
#
# A host is: an overlay root in <dir> (/tmp/mailrig-host-XXXX) over the cached base image, a network
# namespace mailrig-<name>-<tag> with a veth pair on 10.231.<n>.0/24 (.1 here, .2 inside), NAT out for apt
# (not between test hosts), and a cgroup of its own. testhost.ts runs `boot` as its child so that
# node owns the host's PID 1 (systemd, or a small shell init that runs sshd); the overlay, network
# and keys outlive a power-off, so the same host boots again. Every change to this machine is
# recorded in <dir>/state so that stop undoes exactly that.
set -euo pipefail

CACHE_ROOT=${MAILRIG_TEST_CACHE:-/var/cache/mailrig-test}
MIRROR=${MAILRIG_TEST_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${MAILRIG_TEST_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
RUN_DIR=/run/mailrig-testhost          # lock and the ip_forward value to restore
SUBNET_PREFIX=10.231                   # 10.231.<n>.0/24, n = 1..250, one per running host
RULE_COMMENT=mailrig-testhost          # every iptables rule we add carries this (plus :<name>)
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SCRIPT_FILE=$(readlink -f "${BASH_SOURCE[0]}")

# What a fresh VPS image has beyond minbase that matters to mailrig: systemd as init with dbus, sshd,
# sudo, CA roots, ip, ps, /etc/services (netbase). No cron: a cloud image need not have it. The mail
# packages are NOT here: mailrig must install them over SSH.
BASE_PACKAGES=(systemd-sysv dbus openssh-server sudo ca-certificates iproute2 procps netbase)

# Units that cannot work in a container and that a VPS runs for its kernel and hardware only; masked
# in the image. Nothing mailrig's services depend on.
MASKED_UNITS=(
  systemd-modules-load.service   # no module loading from inside a namespace
)

# The cgroup v2 hierarchy: the whole /sys/fs/cgroup, or its unified part on a hybrid machine.
cgroup2_root() {
  if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then echo /sys/fs/cgroup
  elif [[ $(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]]; then echo /sys/fs/cgroup/unified
  else die "no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified"; fi
}
CGROUP_PARENT=mailrig-testhost         # each host's cgroup: <cgroup2 root>/mailrig-testhost/<name>

die() { echo "testhost.sh: $*" >&2; exit 1; }
log() { echo "testhost.sh: $*" >&2; }

# ===================================== base rootfs ===============================================

base_stamp() {
  # Everything that should force a rebuild goes into the hash (bump format= when the recipe changes).
  { echo "release=$1 mirror=$MIRROR security=$SECURITY_MIRROR variant=minbase format=4"
    printf '%s\n' "${BASE_PACKAGES[@]}"; printf 'mask %s\n' "${MASKED_UNITS[@]}"; } | sha256sum | cut -d' ' -f1
}

in_root() { # <root> <cmd...>
  local root=$1; shift
  DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=$CHROOT_PATH chroot "$root" "$@"
}

# Runs a command with its output in a log; on failure prints the command and the log's last lines.
# Retries up to <tries> times (downloads fail now and then), running <reset> before each retry.
run_logged() { # <tries> <reset cmd|""> <cmd...>
  local tries=$1 reset=$2; shift 2
  local out attempt rc
  out=$(mktemp /tmp/mailrig-testhost-build.XXXXXX.log)
  for ((attempt = 1; ; attempt++)); do
    rc=0
    "$@" >"$out" 2>&1 || rc=$?
    if [[ $rc == 0 ]]; then rm -f "$out"; return 0; fi
    if ((attempt >= tries)); then
      log "failed (exit $rc, attempt $attempt of $tries): $*"
      tail -n 25 "$out" | sed 's/^/  | /' >&2
      rm -f "$out"
      return "$rc"
    fi
    log "attempt $attempt of $tries failed (exit $rc): $*; retrying"
    tail -n 3 "$out" | sed 's/^/  | /' >&2
    sleep $((attempt * 5))
    [[ -z $reset ]] || $reset
  done
}

BUILD_DIR=
BUILD_DEBS=
BUILD_MOUNTS=()
build_cleanup() {
  build_unmount
  if [[ -n $BUILD_DIR && -d $BUILD_DIR ]] && ! grep -q " $BUILD_DIR/" /proc/self/mounts; then
    rm -rf --one-file-system "$BUILD_DIR"
  fi
  if [[ -n $BUILD_DEBS && -d $BUILD_DEBS ]]; then rm -rf --one-file-system "$BUILD_DEBS"; fi
}
build_unmount() {
  local i
  for ((i = ${#BUILD_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${BUILD_MOUNTS[i]}" 2>/dev/null || umount -l "${BUILD_MOUNTS[i]}" 2>/dev/null || true
  done
  BUILD_MOUNTS=()
  # debootstrap may leave its own /proc or /sys mounts in the target when it fails.
  if [[ -n $BUILD_DIR ]]; then
    grep -o " $BUILD_DIR/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  fi
}
build_mount() { # <mount args...> <target>
  mount "$@"
  BUILD_MOUNTS+=("${!#}")
}
# Before another debootstrap attempt: an empty target.
build_reset() {
  build_unmount
  [[ -n $BUILD_DIR && -d $BUILD_DIR ]] || return 0
  find "$BUILD_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
}

# The .deb cache is shared with rootfs.sh and other runs: two apt-gets on one archives dir fail on
# its lock, and two debootstraps could write the same file. So a build works on a private copy (hard
# links, on the same filesystem) and publishes what it downloaded, each file by a rename; both
# steps under the cache's lock, which builders that share the cache take.
debs_seed() { # <shared> <private>
  exec 7>"$1/.mailrig-build.lock"
  flock 7
  mkdir -p "$2/partial"
  find "$1" -maxdepth 1 -name '*.deb' -exec cp -l -t "$2" {} + 2>/dev/null || true
  flock -u 7
}
debs_publish() { # <private> <shared>
  local f name
  exec 7>"$2/.mailrig-build.lock"
  flock 7
  for f in "$1"/*.deb; do
    [[ -f $f ]] || continue
    name=$(basename "$f")
    [[ -e $2/$name ]] && continue
    cp "$f" "$2/.$name.tmp" && mv -f "$2/.$name.tmp" "$2/$name"
  done
  flock -u 7
}

build_base() {
  local release=$1 target=$2 stamp=$3
  local debs="$CACHE_ROOT/debs/$release" t0=$SECONDS
  mkdir -p "$debs/partial"
  BUILD_DIR=$(mktemp -d "$(dirname "$target")/.build.XXXXXX")
  BUILD_DEBS=$(mktemp -d "$(dirname "$target")/.build-debs.XXXXXX")
  trap build_cleanup EXIT
  trap 'exit 130' INT TERM
  debs_seed "$debs" "$BUILD_DEBS"

  log "debootstrap $release (minbase) into $BUILD_DIR"
  run_logged 3 build_reset debootstrap --variant=minbase --cache-dir="$BUILD_DEBS" "$release" "$BUILD_DIR" "$MIRROR"
  # Keep the build from starting daemons; removed again below, since a real host has no such policy.
  printf '#!/bin/sh\nexit 101\n' >"$BUILD_DIR/usr/sbin/policy-rc.d"
  chmod 0755 "$BUILD_DIR/usr/sbin/policy-rc.d"
  build_mount -t proc proc "$BUILD_DIR/proc"
  build_mount --bind /dev "$BUILD_DIR/dev"
  build_mount --bind "$BUILD_DEBS" "$BUILD_DIR/var/cache/apt/archives"

  printf 'deb %s %s main\n' "$MIRROR" "$release" "$MIRROR" "$release-updates" \
    "$SECURITY_MIRROR" "$release-security" >"$BUILD_DIR/etc/apt/sources.list"
  # Sandbox user root: the bind-mounted .deb cache belongs to this machine's root, not the guest's _apt.
  local apt=(in_root "$BUILD_DIR" apt-get -o APT::Sandbox::User=root -o Acquire::Retries=3)
  run_logged 3 '' "${apt[@]}" update -q
  run_logged 3 '' "${apt[@]}" install -y -q --no-install-recommends "${BASE_PACKAGES[@]}"
  build_unmount
  debs_publish "$BUILD_DEBS" "$debs"
  configure_base "$BUILD_DIR"

  echo "$stamp" >"$BUILD_DIR/.mailrig-testhost-stamp"
  chmod 0755 "$BUILD_DIR"   # mktemp made it 0700; daemons running as their own users must traverse /
  mv -T "$BUILD_DIR" "$target"   # atomic, and never over an image: readers see none or the complete one
  BUILD_DIR=
  build_cleanup
  trap - EXIT INT TERM
  log "built $release base in $((SECONDS - t0)) s"
}

configure_base() {
  local root=$1
  rm -f "$root/usr/sbin/policy-rc.d"
  # Host keys are made fresh for every host (prepare), so no two hosts share one; so is the machine id.
  rm -f "$root"/etc/ssh/ssh_host_*
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  printf '%s\n' '# Test host: keys only, as a hardened VPS would be.' 'PermitRootLogin prohibit-password' \
    'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'UseDNS no' \
    >"$root/etc/ssh/sshd_config.d/mailrig-testhost.conf"
  # pam_loginuid fails inside a pid namespace without audit support and would end every session.
  sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' "$root/etc/pam.d/sshd"
  local unit
  for unit in "${MASKED_UNITS[@]}"; do ln -sfn /dev/null "$root/etc/systemd/system/$unit"; done
  # The host's PID 1 enters its root with pivot_root, which needs a directory to put the old root in.
  install -d -m 0700 "$root/.oldroot"
  # deploy: the sudo path of the transport. nosudo: the "sudo needs a password" error path.
  # '*' = no password but not locked, so sshd accepts their keys.
  in_root "$root" useradd -m -s /bin/bash -p '*' deploy
  in_root "$root" useradd -m -s /bin/bash -p '*' nosudo
  echo 'deploy ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/deploy"
  chmod 0440 "$root/etc/sudoers.d/deploy"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
}

# Images live in hosts/<release>/<stamp>/, one directory per recipe, never replaced in place: a host
# (of this run or of another run using another recipe) may have any of them as its overlay's lower
# layer. An image is removed only when no overlay uses it and nobody asked for it within an hour.
image_in_use() { # <image dir>: a lower layer of a mounted overlay (lowerdir=a:b:…)
  grep -q "lowerdir=\([^, ]*:\)\?$1[,:]" /proc/self/mounts
}
prune_images() { # <release dir> <current image>; under the release's build lock
  local dir=$1 current=$2 image
  exec 6>"$dir/.use.lock"
  flock 6   # no prepare is between choosing an image and mounting it
  for image in "$dir"/*; do
    [[ -d $image && $(basename "$image") =~ ^[0-9a-f]{64}$ && $image != "$current" ]] || continue
    image_in_use "$image" && continue
    [[ -n $(find "$image/.mailrig-testhost-stamp" -mmin -60 2>/dev/null) ]] && continue
    log "removing unused image $image"
    mv -T "$image" "$dir/.old.$(basename "$image")" && rm -rf --one-file-system "$dir/.old.$(basename "$image")"
  done
  # Builds that died before their rename.
  find "$dir" -mindepth 1 -maxdepth 1 -name '.build*' -mmin +120 -exec rm -rf --one-file-system {} + 2>/dev/null || true
  flock -u 6
}

cmd_base() {
  local release=$1
  case $release in bookworm|trixie) ;; *) die "unsupported release '$release' (bookworm|trixie)" ;; esac
  [[ $(id -u) == 0 ]] || die "must run as root"
  local dir="$CACHE_ROOT/hosts/$release" stamp
  stamp=$(base_stamp "$release")
  local target="$dir/$stamp"
  mkdir -p "$dir"
  exec 9>"$dir/.build.lock"   # one builder per release; a concurrent caller waits, then reuses the result
  flock 9
  if [[ ! -f $target/.mailrig-testhost-stamp ]]; then
    [[ ! -e $target ]] || die "$target exists but is not a complete image: remove it"
    build_base "$release" "$target" "$stamp"
  fi
  touch "$target/.mailrig-testhost-stamp"
  prune_images "$dir" "$target"
  flock -u 9
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

network_up() { # <dir> <id>; runs under with_lock
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
  # Masqueraded on the way out to the world only: between two test hosts the packets keep their
  # addresses, so a host sees another's connections come from its own address, as on the internet
  # (a primary must see its backup MX's address, not this machine's).
  local rule="POSTROUTING -s $net.0/24 ! -d $SUBNET_PREFIX.0.0/16 -m comment --comment $RULE_COMMENT:$name -j MASQUERADE"
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

make_cgroup() { # <dir> <cgroup>; under with_lock, so that cleanup-stale sees it recorded or not there
  state_put "$1" CGROUP "$2"
  mkdir -p "$2"
}

cmd_prepare() {
  local dir=$1 release=$2 name=$3 layer=${4:-} base
  [[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "bad host name '$name' (a-z, 0-9, -; at most 31)"
  [[ -d $dir && $dir == /tmp/mailrig-host-* ]] || die "bad host dir '$dir'"
  [[ -z $layer || ( -d $layer && $layer != *[:,]* ) ]] || die "bad layer '$layer'"
  # The host's traces on this machine carry its name and a random tag: test runs side by side may
  # start hosts of the same name.
  local id
  id="$name-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  state_put "$dir" OWNER "${MAILRIG_TESTHOST_OWNER:-$PPID}"
  base=$(cmd_base "$release")
  mkdir -p "$dir/upper" "$dir/work" "$dir/root"
  exec 6>"$(dirname "$base")/.use.lock"
  flock -s 6   # the image is not pruned between choosing and mounting it
  [[ -f $base/.mailrig-testhost-stamp ]] || die "image $base vanished before it was mounted"
  mount -t overlay overlay -o "lowerdir=${layer:+$layer:}$base,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
  flock -u 6
  state_put "$dir" MOUNTED 1
  local root=$dir/root
  # A cgroup of its own: its systemd sees only this subtree, and stop finds every process in it.
  local cgroup
  cgroup="$(cgroup2_root)/$CGROUP_PARENT/$id"
  with_lock make_cgroup "$dir" "$cgroup"
  # Like a VPS cloned from an image: its own machine id (an empty one would make systemd's first boot).
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
  echo >>"$root/etc/machine-id"

  ssh-keygen -q -t ed25519 -N '' -C "mailrig-testhost-$name" -f "$dir/id_ed25519"
  authorize_key "$root" "$dir/id_ed25519.pub" root /root
  authorize_key "$root" "$dir/id_ed25519.pub" deploy /home/deploy
  authorize_key "$root" "$dir/id_ed25519.pub" nosudo /home/nosudo
  guest_identity "$root" "$name"
  # dpkg syncs every file it unpacks, which makes apt on this machine's shared disk a third slower.
  # Nothing a test proves rests on those syncs: a power loss here kills the host's processes, not
  # the page cache of the kernel they share.
  echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/mailrig-testhost"
  # Fresh host keys per start. No RSA key: generating one takes seconds, and ed25519 is what
  # both ssh2 and OpenSSH negotiate first.
  local t
  for t in ed25519 ecdsa; do
    in_root "$root" ssh-keygen -q -t "$t" -N '' -C "root@$name" -f "/etc/ssh/ssh_host_${t}_key"
  done

  with_lock network_up "$dir" "$id"
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
  echo "CGROUP=$cgroup"
  echo "ROOT=$root"
  echo "KEY_FILE=$dir/id_ed25519"
  echo "KNOWN_HOSTS=$dir/known_hosts"
  echo "FINGERPRINT=$(ssh-keygen -l -E sha256 -f "$root/etc/ssh/ssh_host_ed25519_key.pub" | awk '{print $2}')"
}

# The shell init of a host without systemd: it starts sshd and reaps every orphan (daemons started
# over SSH with `service X start` end up as its children), so they stay alive and leave no zombies.
SSHD_INIT='mkdir -p /run/sshd /run/lock && chmod 1777 /run/lock
trap '\''kill "$sshd"; exit 0'\'' TERM
/usr/sbin/sshd -D -e 2>>/var/log/sshd.log & sshd=$!
wait'

cgroup_pids() { # <cgroup>: every process in it and below
  find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}
remove_cgroup_children() { # <cgroup>: the empty cgroups a previous boot's systemd left
  find "$1" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
}
kill_cgroup() { # <cgroup>: every process in it and below, then wait for them to go
  local cgroup=$1 i pids
  [[ -d $cgroup ]] || return 0
  for ((i = 0; i < 50; i++)); do
    pids=$(cgroup_pids "$cgroup")
    [[ -z $pids ]] && return 0
    if [[ -e $cgroup/cgroup.kill ]]; then echo 1 >"$cgroup/cgroup.kill" 2>/dev/null || true; fi
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  log "processes still alive in $cgroup: $pids"
}
remove_cgroup() { # <cgroup>: and the hosts' common parent when it was the last host
  local cgroup=$1
  [[ -d $cgroup ]] || return 0
  kill_cgroup "$cgroup"
  remove_cgroup_children "$cgroup"
  rmdir "$cgroup" 2>/dev/null || log "cannot remove cgroup $cgroup"
  with_lock rmdir "$(dirname "$cgroup")" 2>/dev/null || true
}

# Runs as the host's supervisor, a child of testhost.ts: enters the host's cgroup and network, then
# makes its pid, mount, uts, ipc and cgroup namespaces, in which guest-init becomes PID 1.
# Enter the network with nsenter, not `ip netns exec`: that one remounts /sys, after which the move
# into the cgroup would fail and the host's systemd would make its slices at the machine's root.
cmd_boot() {
  local dir=$1 mode=$2 ns cgroup name
  [[ $dir == /tmp/mailrig-host-* && -d $dir/root ]] || die "bad host dir '$dir'"
  case $mode in systemd|sshd) ;; *) die "unknown init '$mode' (systemd|sshd)" ;; esac
  ns=$(state_get "$dir" NETNS)
  cgroup=$(state_get "$dir" CGROUP)
  [[ -n $ns && -n $cgroup ]] || die "host $dir is not prepared"
  name=$(cat "$dir/root/etc/hostname")
  # After a power loss the kernel may still be reaping the host's last processes.
  local i
  for ((i = 0; i < 50; i++)); do [[ -z $(cgroup_pids "$cgroup") ]] && break; sleep 0.1; done
  [[ -z $(cgroup_pids "$cgroup") ]] || die "host $name still runs: power it off first"
  mkdir -p "$cgroup"
  remove_cgroup_children "$cgroup"
  echo $$ >"$cgroup/cgroup.procs"
  exec nsenter --net="/run/netns/$ns" \
    unshare --pid --fork --mount --uts --ipc --cgroup --kill-child -- \
    bash "$SCRIPT_FILE" guest-init "$dir/root" "$name" "$mode"
}

# PID 1 of the host, before it becomes the host's init: a booted machine's mounts, made in the
# host's own mount namespace so that they vanish with it; then pivot_root into the overlay. Not
# chroot: inside a chroot the kernel refuses new user namespaces (PrivateUsers= units fail).
cmd_guest_init() {
  local root=$1 name=$2 mode=$3 d
  mount --make-rprivate /
  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
  if [[ $mode == systemd ]]; then mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"; fi
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
  mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
  for d in null zero full random urandom tty; do
    : >"$root/dev/$d"
    mount --bind "/dev/$d" "$root/dev/$d"
  done
  mkdir -m 0755 "$root/dev/pts"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
  ln -s pts/ptmx "$root/dev/ptmx"
  mkdir -m 1777 "$root/dev/shm"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
  ln -s /proc/self/fd "$root/dev/fd"
  ln -s /proc/self/fd/0 "$root/dev/stdin"
  ln -s /proc/self/fd/1 "$root/dev/stdout"
  ln -s /proc/self/fd/2 "$root/dev/stderr"
  hostname "$name"
  cd "$root"
  pivot_root . .oldroot
  cd /
  umount -l /.oldroot
  if [[ $mode == systemd ]]; then
    exec /usr/bin/env -i container=other PATH="$CHROOT_PATH" LANG=C.UTF-8 /lib/systemd/systemd --system
  fi
  exec /usr/bin/env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 /bin/sh -c "$SSHD_INIT"
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
  local dir=$1 ns veth rule cgroup
  [[ $dir == /tmp/mailrig-host-* ]] || die "bad host dir '$dir'"
  ns=$(state_get "$dir" NETNS)
  veth=$(state_get "$dir" VETH)
  rule=$(state_get "$dir" RULE)
  cgroup=$(state_get "$dir" CGROUP)
  [[ -n $cgroup ]] && remove_cgroup "$cgroup"
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
  local dir
  for dir in /tmp/mailrig-host-*; do
    [[ -d $dir ]] || continue
    host_is_live "$dir" && continue
    log "removing stale test host $dir"
    cmd_stop "$dir"
  done
  with_lock sweep_orphans
  with_lock forward_restore_if_last
}

# Cgroups, namespaces and iptables rules that no live host records. Runs under with_lock, the lock
# under which prepare creates them and records them at once: a host being prepared right now is
# either recorded in its state or has none of them yet, never half.
sweep_orphans() {
  local dir ns live_ns=" " live_cgroups=" " cgroup comment
  for dir in /tmp/mailrig-host-*; do
    [[ -d $dir ]] && host_is_live "$dir" || continue
    live_ns+="$(state_get "$dir" NETNS) "
    live_cgroups+="$(state_get "$dir" CGROUP) "
  done
  for cgroup in "$(cgroup2_root)/$CGROUP_PARENT"/*; do
    [[ -d $cgroup && $live_cgroups != *" $cgroup "* ]] || continue
    log "removing stale cgroup $cgroup"
    kill_cgroup "$cgroup"
    remove_cgroup_children "$cgroup"
    rmdir "$cgroup" 2>/dev/null || log "cannot remove cgroup $cgroup"
  done
  rmdir "$(cgroup2_root)/$CGROUP_PARENT" 2>/dev/null || true
  for ns in $(running_netns); do
    [[ $live_ns == *" $ns "* ]] && continue
    log "removing stale namespace $ns"
    kill_netns_processes "$ns"
    ip netns del "$ns" 2>/dev/null || true
  done
  for comment in $(iptables -t nat -S POSTROUTING | tr -d '"' | grep -o -- "--comment $RULE_COMMENT:[a-z0-9-]*" | awk '{print $2}' | sort -u); do
    [[ $live_ns == *" mailrig-${comment#"$RULE_COMMENT:"} "* ]] && continue
    log "removing stale iptables rule $comment"
    delete_rules "$comment"
  done
}

case ${1:-} in
  base) [[ $# == 2 ]] || die "usage: testhost.sh base <release>"; cmd_base "$2" ;;
  prepare) [[ $# == 4 || $# == 5 ]] || die "usage: testhost.sh prepare <dir> <release> <name> [<layer>]"; cmd_prepare "${@:2}" ;;
  boot) [[ $# == 3 ]] || die "usage: testhost.sh boot <dir> <systemd|sshd>"; cmd_boot "$2" "$3" ;;
  guest-init) [[ $# == 4 ]] || die "usage: testhost.sh guest-init <root> <name> <systemd|sshd>"; cmd_guest_init "$2" "$3" "$4" ;;
  stop) [[ $# == 2 ]] || die "usage: testhost.sh stop <dir>"; cmd_stop "$2" ;;
  cleanup-stale) cmd_cleanup_stale ;;
  *) echo "usage: testhost.sh base|prepare|boot|stop|cleanup-stale ..." >&2; exit 2 ;;
esac

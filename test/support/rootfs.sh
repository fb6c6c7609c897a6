#!/usr/bin/env bash
# rootfs.sh — cached Debian root filesystems with every package mailrig deploys installed.
#
#   rootfs.sh ensure <bookworm|trixie>   print the path of the cached rootfs, building it if missing
#                                        or if the package list changed since it was built
#   rootfs.sh clean                      remove every cached rootfs and the .deb cache
#
# The cache is read-only input for chroot-check.sh (it mounts it as an overlay lowerdir), so a
# rootfs is built in a temp dir next to the cache and renamed into place only once complete.
# Needs root, debootstrap and access to deb.debian.org. Downloads are retried (the archive or the
# network fails now and then); a failing command is named on stderr before the script exits.
set -eEuo pipefail
trap 'echo "rootfs.sh: failed (exit $?): $BASH_COMMAND" >&2' ERR

CACHE_ROOT=${MAILRIG_TEST_CACHE:-/var/cache/mailrig-test}
MIRROR=${MAILRIG_TEST_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${MAILRIG_TEST_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
STAMP_NAME=.mailrig-rootfs-stamp

# Every package mailrig deploys, plus the tools the checks use (ss, pgrep, nc).
BASE_PACKAGES=(
  postfix postfix-lmdb
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-sieve dovecot-managesieved
  rspamd redis-server nginx unbound dns-root-data
  openssl ca-certificates iproute2 procps netcat-openbsd
)

die() { echo "rootfs.sh: $*" >&2; exit 1; }
log() { echo "rootfs.sh: $*" >&2; }

# How often a download step is tried before the build fails, and apt's own per-file retries.
ATTEMPTS=${MAILRIG_TEST_DOWNLOAD_ATTEMPTS:-3}
APT_OPTS=(-o APT::Sandbox::User=root -o Acquire::Retries=5)

# retry <what> <cmd...>: runs cmd up to ATTEMPTS times, backing off between attempts.
retry() {
  local what=$1 n=1; shift
  until "$@"; do
    ((n < ATTEMPTS)) || { log "$what failed $n times, giving up"; return 1; }
    log "$what failed (attempt $n of $ATTEMPTS), retrying in $((n * 10)) s"
    sleep $((n * 10))
    n=$((n + 1))
  done
}

# Package names differ between releases only where listed here (none known so far: both releases
# carry every name above; keep the hook so a rename is a one-line change).
packages_for() {
  local release=$1
  case $release in
    bookworm|trixie) printf '%s\n' "${BASE_PACKAGES[@]}" ;;
    *) die "unsupported release '$release' (bookworm|trixie)" ;;
  esac
}

# Everything that should force a rebuild when it changes goes into the stamp hash.
stamp_for() {
  local release=$1
  { echo "release=$release mirror=$MIRROR security=$SECURITY_MIRROR variant=minbase format=2"; packages_for "$release"; } \
    | sha256sum | cut -d' ' -f1
}

# --- mounts needed by maintainer scripts; always torn down by the EXIT trap -----------------------
MOUNTED=()
mount_into() { # <type|--bind> <source> <target>
  mkdir -p "$3"
  if [[ $1 == --bind ]]; then mount --bind "$2" "$3"; else mount -t "$1" "$2" "$3"; fi
  MOUNTED+=("$3")
}
unmount_all() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
  done
  MOUNTED=()
}

BUILD_DIR=
cleanup_build() {
  unmount_all
  if [[ -n $BUILD_DIR && -d $BUILD_DIR ]]; then
    # debootstrap may have left its own /proc or /sys mounts in the target when it failed.
    grep -o " $BUILD_DIR/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    # Never rm -rf through a live mount: check nothing is still mounted below the build dir.
    if ! grep -q " ${BUILD_DIR}/" /proc/self/mounts; then rm -rf --one-file-system "$BUILD_DIR"; fi
  fi
}

build() {
  local release=$1 target=$2 stamp=$3
  local debs="$CACHE_ROOT/debs/$release"
  mkdir -p "$debs/partial" "$CACHE_ROOT/rootfs"
  # The .deb cache is shared with testhost.sh's builds of the same release: two apt-gets on one
  # archives dir fail on its lock, and two debootstraps could write the same file. Every builder
  # that uses it holds this lock for as long as it does (the same protocol as testhost.sh).
  exec 7>"$debs/.mailrig-build.lock"
  flock 7
  BUILD_DIR=$(mktemp -d "$CACHE_ROOT/rootfs/.build-$release.XXXXXX")
  trap cleanup_build EXIT
  trap 'exit 130' INT TERM
  local t0=$SECONDS

  log "debootstrap $release into $BUILD_DIR"
  retry "debootstrap $release" debootstrap_into "$release" "$BUILD_DIR" "$debs"

  # Nothing may start during the build (and nothing starts later unless chroot-check removes this).
  printf '#!/bin/sh\nexit 101\n' >"$BUILD_DIR/usr/sbin/policy-rc.d"
  chmod 0755 "$BUILD_DIR/usr/sbin/policy-rc.d"

  mount_into proc proc "$BUILD_DIR/proc"
  mount_into sysfs sysfs "$BUILD_DIR/sys"
  mount_into --bind /dev "$BUILD_DIR/dev"
  mount_into --bind /dev/pts "$BUILD_DIR/dev/pts"
  # apt's download cache is shared between builds of the same release.
  mount_into --bind "$debs" "$BUILD_DIR/var/cache/apt/archives"

  # Real hosts run with -updates and -security enabled: test against the same versions.
  printf 'deb %s %s main\n' "$MIRROR" "$release" "$MIRROR" "$release-updates" \
    "$SECURITY_MIRROR" "$release-security" >"$BUILD_DIR/etc/apt/sources.list"

  local -a pkgs
  mapfile -t pkgs < <(packages_for "$release")
  in_chroot "$BUILD_DIR" sh -c \
    'echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections'
  retry "apt-get update ($release)" in_chroot "$BUILD_DIR" apt-get "${APT_OPTS[@]}" update -q >&2
  # Download first (the step that can fail for reasons outside this machine), then install offline.
  retry "download of $release packages" in_chroot "$BUILD_DIR" apt-get "${APT_OPTS[@]}" install -y -q \
    --no-install-recommends --download-only "${pkgs[@]}" >&2
  in_chroot "$BUILD_DIR" apt-get "${APT_OPTS[@]}" install -y -q --no-install-recommends "${pkgs[@]}" >&2
  unmount_all
  flock -u 7

  # Keep the image small and deterministic: apt lists are re-downloadable.
  rm -rf "$BUILD_DIR"/var/lib/apt/lists/* 2>/dev/null || true
  echo "$stamp" >"$BUILD_DIR/$STAMP_NAME"
  chmod 0755 "$BUILD_DIR"   # mktemp made it 0700: daemons running as their own users must traverse /


  # Swap into place: rename is atomic; an outdated rootfs is moved aside first, then removed.
  # chroot-check.sh holds a shared lock while it uses a rootfs, so none of its overlays can be on the
  # old one here; an overlay mounted by hand (visible in our mount table) keeps the old copy alive.
  local old= in_use=no
  if grep -qE "lowerdir=([^,]*:)?$target[,:]" /proc/self/mounts; then in_use=yes; fi
  if [[ -e $target ]]; then old=$(mktemp -d "$CACHE_ROOT/rootfs/.old-$release.XXXXXX"); mv -T "$target" "$old/x"; fi
  mv -T "$BUILD_DIR" "$target"
  BUILD_DIR=
  if [[ -n $old && $in_use == yes ]]; then
    log "old $release rootfs is still an overlay lowerdir: left in $old (remove it when unmounted)"
  elif [[ -n $old ]]; then
    rm -rf --one-file-system "$old"
  fi

  log "built $release in $((SECONDS - t0)) s"
  trap - EXIT INT TERM
}

# One debootstrap attempt into an empty <dir>; a failed attempt leaves <dir> empty again (the .debs it
# fetched stay in the cache, so the next attempt only downloads what is still missing).
debootstrap_into() { # <release> <dir> <debs>
  local release=$1 dir=$2 debs=$3
  if debootstrap --variant=minbase --cache-dir="$debs" "$release" "$dir" "$MIRROR" >&2; then return 0; fi
  # debootstrap may have left its own /proc or /sys mounts in the target when it failed.
  grep -o " $dir/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  if grep -q " $dir/" /proc/self/mounts; then die "$dir still has mounts after a failed debootstrap"; fi
  find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
  return 1
}

in_chroot() {
  local root=$1; shift
  # APT::Sandbox::User=root: the bind-mounted .deb cache belongs to the host root, not the chroot _apt.
  DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true LC_ALL=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    chroot "$root" "$@"
}

ensure() {
  local release=$1
  packages_for "$release" >/dev/null
  [[ $(id -u) == 0 ]] || die "must run as root"
  local target="$CACHE_ROOT/rootfs/$release" stamp
  stamp=$(stamp_for "$release")
  mkdir -p "$CACHE_ROOT/rootfs"
  # One builder per release; a second caller waits and then reuses the result.
  exec 9>"$CACHE_ROOT/rootfs/.$release.lock"
  flock 9
  if [[ -f $target/$STAMP_NAME && $(cat "$target/$STAMP_NAME") == "$stamp" ]]; then
    echo "$target"; return
  fi
  build "$release" "$target" "$stamp"
  echo "$target"
}

# Removes what this harness put in the cache (rootfs images, .debs, rspamd's hyperscan cache made
# by chroot-check.sh), not other tools' directories under the same root.
clean() {
  [[ -d $CACHE_ROOT ]] || return 0
  local d
  for d in rootfs debs rspamd-hs; do
    if grep -q " $CACHE_ROOT/$d/" /proc/self/mounts; then die "something is still mounted under $CACHE_ROOT/$d"; fi
  done
  # Wait for running builds and chroot-check runs (they hold the per-release locks).
  local lock fd
  for lock in "$CACHE_ROOT"/rootfs/.*.lock; do
    [[ -e $lock ]] || continue
    exec {fd}>"$lock"
    flock "$fd"
  done
  for d in rootfs debs rspamd-hs; do rm -rf --one-file-system "${CACHE_ROOT:?}/$d"; done
  rmdir "$CACHE_ROOT" 2>/dev/null || true

}


case ${1:-} in
  ensure) [[ $# == 2 ]] || die "usage: rootfs.sh ensure <bookworm|trixie>"; ensure "$2" ;;
  clean) clean ;;
  *) echo "usage: rootfs.sh ensure <bookworm|trixie> | rootfs.sh clean" >&2; exit 2 ;;
esac

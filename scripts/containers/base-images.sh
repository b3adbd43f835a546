#!/usr/bin/env bash
# Local base images for the Docker deployment, built from Debian's packages only (no image
# registry is needed), under exactly the names Dockerfile.webserver, Dockerfile.daemon and
# docker-compose-dagster.yml use:
#   debian:bookworm-slim        debootstrap --variant=minbase bookworm, slimmed, `podman import`
#   rust:<ver>-slim-bookworm    FROM the above + the host's rustup toolchain <ver> (copied, no
#                               download), laid out as in the official image (rust.Containerfile)
#   postgres:<major>            FROM the above + Debian's postgresql-<major> and
#                               postgres-entrypoint.sh (postgres.Containerfile)
# Images are stored as docker.io/library/<name>, the name both podman and the Docker API
# (docker-compose) resolve a short name to.
#
#   scripts/containers/base-images.sh [--rebuild]
#
# Existing images are kept unless --rebuild. The debootstrap rootfs tarball is cached in
# target/containers/base/ (delete it to fetch the packages again). Each step's time and the image
# sizes are printed and appended to target/containers/base-images.tsv.
# Needs root (debootstrap), podman, debootstrap and the Debian mirror (deb.debian.org); the
# derived images run apt-get with host networking. Set DEBIAN_MIRROR to use another mirror.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cache=$dir/base
record=$dir/base-images.tsv
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

rebuild=false
for arg in "$@"; do
  case $arg in
    --rebuild) rebuild=true ;;
    -h | --help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$arg' (only --rebuild)" ;;
  esac
done

[[ $(id -u) == 0 ]] || die "needs root (debootstrap and podman's root storage); run it with sudo"
for tool in podman debootstrap python3 tar; do
  command -v "$tool" >/dev/null || die "'$tool' not found on PATH (apt-get install podman debootstrap python3 tar)"
done
# The same containers.conf as the API service (runc; ulimits the host allows), without starting it.
CONTAINERS_CONF=$("$here/engine.sh" env | sed -n 's/^export CONTAINERS_CONF=//p')
[[ -f $CONTAINERS_CONF ]] || die "no $CONTAINERS_CONF: run scripts/containers/engine.sh once first"
export CONTAINERS_CONF
mkdir -p "$cache"

# --- the names the project uses ------------------------------------------------------------
# FROM lines of both Dockerfiles (stage names excluded) and the `image:` of every compose
# service that is not built from this checkout.
mapfile -t wanted < <(python3 - "$repo" <<'EOF'
import re, sys, yaml
repo = sys.argv[1]
names, stages = [], set()
for f in ("Dockerfile.webserver", "Dockerfile.daemon"):
    for line in open(f"{repo}/{f}"):
        m = re.match(r"\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            if m.group(1) not in stages:
                names.append(m.group(1))
            if m.group(2):
                stages.add(m.group(2))
compose = yaml.safe_load(open(f"{repo}/docker-compose-dagster.yml"))
for svc in compose["services"].values():
    if "image" in svc and "build" not in svc:
        names.append(svc["image"])
for n in dict.fromkeys(names):
    print(n)
EOF
) || die "could not read the image names from Dockerfile.webserver, Dockerfile.daemon, docker-compose-dagster.yml"
((${#wanted[@]})) || die "no FROM/image: names found in the Dockerfiles and the compose file"

debian_name='' rust_name='' rust_version='' pg_name='' pg_major=''
for name in "${wanted[@]}"; do
  case $name in
    debian:"$suite"-slim) debian_name=$name ;;
    rust:*-slim-"$suite")
      rust_name=$name
      rust_version=${name#rust:}
      rust_version=${rust_version%-slim-"$suite"}
      ;;
    postgres:[0-9]*)
      pg_name=$name
      pg_major=${name#postgres:}
      [[ $pg_major == 15 ]] \
        || die "$name: Debian $suite packages PostgreSQL 15 only; use postgres:15 or another way to get $name"
      ;;
    *) die "no recipe for image '$name' (used by the Dockerfiles or the compose file): add one to $0" ;;
  esac
done
# rust and postgres images derive from debian:bookworm-slim even when no file uses it directly.
debian_name=${debian_name:-debian:$suite-slim}

full() { echo "docker.io/library/$1"; }
exists() { podman image exists "$(full "$1")"; }
size_of() { podman image inspect --format '{{.Size}}' "$(full "$1")" | awk '{printf "%.0f MB", $1/1e6}'; }

summary=()
step() { # step <label> <command...>: run, time, record
  local label=$1 t0 t1 secs
  shift
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  summary+=("$label	${secs}s")
  printf '%s\t%s\t%s\n' "$(date -Is)" "$label" "${secs}s" >>"$record"
  log "$label: ${secs}s"
}

# --- debian:bookworm-slim ------------------------------------------------------------------
tarball=$cache/$suite-minbase.tar

make_rootfs_tarball() {
  local root=$cache/rootfs.tmp
  rm -rf "$root"
  mkdir -p "$root"
  nice -n 19 debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || die "debootstrap of $suite from $mirror failed; last lines of $cache/debootstrap.log:
$(tail -n 15 "$cache/debootstrap.log")"
  # As in the official slim images: every suite, no docs/man pages/translations from later
  # installs, no package lists or caches in the image, no service starts during apt-get.
  cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
EOF
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim-image" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cat >"$root/etc/apt/apt.conf.d/slim-image" <<'EOF'
APT::Install-Recommends "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
  printf '#!/bin/sh\n# No service starts inside an image build.\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$root"/usr/share/{man,info,locale,lintian}/* "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/* "$root"/var/log/*.log "$root"/var/log/apt/* \
    "$root/etc/resolv.conf" "$root/etc/hostname"
  tar -C "$root" --numeric-owner --xattrs -cf "$tarball.tmp" . \
    || die "could not write $tarball.tmp (disk space?)"
  mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
}

# CA certificates the host trusts beyond Debian's ca-certificates (e.g. a TLS-intercepting
# egress proxy's): without them cargo and pip inside image builds cannot reach crates.io/PyPI
# here. They go to /usr/local/share/ca-certificates/, which update-ca-certificates (run when a
# later build installs ca-certificates) adds to the bundle. HOST_EXTRA_CA=0 leaves them out.
host_bundle=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
add_host_cas() { # add_host_cas <dir>: writes host-extra-ca-N.crt files, prints their count
  python3 - "$host_bundle" "$1" <<'EOF'
import glob, re, sys
pem = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
body = lambda c: "".join(c.split("\n")[1:-1]).replace(" ", "")
debian = {body(c) for f in glob.glob("/usr/share/ca-certificates/**/*.crt", recursive=True)
          for c in pem.findall(open(f).read())}
extra = [c for c in pem.findall(open(sys.argv[1]).read()) if body(c) not in debian]
for i, c in enumerate(extra):
    open(f"{sys.argv[2]}/host-extra-ca-{i}.crt", "w").write(c + "\n")
print(len(extra))
EOF
}

import_debian() {
  local src=$tarball
  if [[ ${HOST_EXTRA_CA:-1} != 0 ]]; then
    [[ -r $host_bundle ]] || die "cannot read the host's CA bundle $host_bundle (set HOST_CA_BUNDLE, or HOST_EXTRA_CA=0)"
    local extra=$cache/extra-ca n
    rm -rf "$extra"
    mkdir -p "$extra/usr/local/share/ca-certificates"
    n=$(add_host_cas "$extra/usr/local/share/ca-certificates") \
      || die "could not compare $host_bundle with Debian's ca-certificates"
    if ((n > 0)); then
      log "adding $n CA certificate(s) the host trusts beyond Debian's to $debian_name (HOST_EXTRA_CA=0 to leave them out)"
      src=$cache/$suite-minbase+ca.tar
      cp "$tarball" "$src"
      tar -C "$extra" --numeric-owner --owner=0 --group=0 -rf "$src" ./usr/local/share/ca-certificates
    fi
  else
    log "HOST_EXTRA_CA=0: $debian_name trusts Debian's CA certificates only"
  fi
  podman rmi --force "$(full "$debian_name")" >/dev/null 2>&1 || true
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$src" "$(full "$debian_name")" >/dev/null \
    || die "podman import of $src as $(full "$debian_name") failed"
  [[ $src == "$tarball" ]] || rm -f "$src"
}

if $rebuild || ! exists "$debian_name"; then
  if [[ -f $tarball ]]; then
    log "using cached $tarball (delete it to fetch the packages again)"
  else
    log "debootstrap --variant=minbase $suite (log: $cache/debootstrap.log)"
    step "debootstrap $suite minbase + tar" make_rootfs_tarball
  fi
  step "podman import $debian_name" import_debian
else
  log "$debian_name exists (--rebuild to make it again)"
fi

build() { # build <name> <containerfile> <context> <build args...>
  local name=$1 file=$2 ctx=$3
  shift 3
  nice -n 19 podman build --network host --pull=never --layers \
    --build-arg "BASE=$(full "$debian_name")" "$@" \
    -f "$file" -t "$(full "$name")" "$ctx" >"$cache/build-${name//[:\/]/_}.log" 2>&1 \
    || die "podman build of $name failed; last lines of $cache/build-${name//[:\/]/_}.log:
$(tail -n 20 "$cache/build-${name//[:\/]/_}.log")"
}

# --- rust:<ver>-slim-bookworm ---------------------------------------------------------------
stage_rust() {
  command -v rustup >/dev/null || die "rustup not found on PATH: $rust_name copies the host's toolchain $rust_version"
  local rustc toolchain host ctx=$cache/rust-context
  rustc=$(rustup which --toolchain "$rust_version" rustc 2>/dev/null) \
    || die "the host has no rustup toolchain $rust_version (rustup toolchain install $rust_version --profile minimal)"
  [[ $("$rustc" --version | cut -d' ' -f2) == "$rust_version" ]] \
    || die "rustup toolchain $rust_version's rustc says '$("$rustc" --version)', not $rust_version"
  toolchain=$(readlink -f "$(dirname "$rustc")/..")
  host=$("$rustc" -vV | sed -n 's/^host: //p')
  rm -rf "$ctx"
  mkdir -p "$ctx/rustup/toolchains/$rust_version-$host" "$ctx/cargo/bin"
  # The toolchain without its HTML docs (the official image's minimal profile has none).
  tar -C "$toolchain" --exclude=./share/doc -cf - . | tar -C "$ctx/rustup/toolchains/$rust_version-$host" -xf -
  local comps=$ctx/rustup/toolchains/$rust_version-$host/lib/rustlib/components
  if [[ -f $comps ]]; then
    sed -i '/^rust-docs$/d' "$comps"
    rm -f "$ctx/rustup/toolchains/$rust_version-$host/lib/rustlib/manifest-rust-docs-$host"
  fi
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$rust_version-$host" \
    >"$ctx/rustup/settings.toml"
  cp "$(command -v rustup)" "$ctx/cargo/bin/rustup"
  local proxy
  for proxy in cargo cargo-clippy cargo-fmt clippy-driver rustc rustdoc rustfmt rust-gdb rust-lldb; do
    ln -s rustup "$ctx/cargo/bin/$proxy"
  done
  # As the official image: writable by any user (builds as a non-root user can add crates).
  chmod -R a+w "$ctx/rustup" "$ctx/cargo"
}

if [[ -n $rust_name ]]; then
  if $rebuild || ! exists "$rust_name"; then
    step "stage host toolchain $rust_version" stage_rust
    step "podman build $rust_name" build "$rust_name" "$here/rust.Containerfile" "$cache/rust-context" \
      --build-arg "RUST_VERSION=$rust_version"
    rm -rf "$cache/rust-context"
  else
    log "$rust_name exists (--rebuild to make it again)"
  fi
fi

# --- postgres:<major> ------------------------------------------------------------------------
if [[ -n $pg_name ]]; then
  if $rebuild || ! exists "$pg_name"; then
    step "podman build $pg_name" build "$pg_name" "$here/postgres.Containerfile" "$here" \
      --build-arg "PG_MAJOR=$pg_major"
  else
    log "$pg_name exists (--rebuild to make it again)"
  fi
fi

# --- report ----------------------------------------------------------------------------------
for name in "$debian_name" ${rust_name:+"$rust_name"} ${pg_name:+"$pg_name"}; do
  exists "$name" || die "$(full "$name") is missing after the build"
  summary+=("size $name	$(size_of "$name")")
  printf '%s\t%s\t%s\n' "$(date -Is)" "size $name" "$(size_of "$name")" >>"$record"
done
echo "--- base images (also in $record)"
printf '%s\n' "${summary[@]}" | column -t -s $'\t'

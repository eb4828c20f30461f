#!/usr/bin/env bash
# Builds Allot's release binary (the Swift runtime linked in) and its Debian package, so that
# servers install a package instead of a Swift toolchain. docs/deployment.md is the guide;
# `deploy/package.sh --help` lists the options.
set -euo pipefail
# The staged files get the modes a package needs, whatever the caller's umask.
umask 022

usage() {
    cat <<'EOF'
Usage: deploy/package.sh [OPTIONS]

Builds allot in release mode with the Swift runtime linked statically, in .build-release/
(its own scratch path, next to the debug build in .build/), then the Debian package
allot_VERSION_ARCH.deb. Install it with `apt install ./allot_VERSION_ARCH.deb`.

The version is AllotVersion.current (Sources/AllotCore/AllotVersion.swift); the commit that
`allot --version` prints comes from git, or from ALLOT_COMMIT when building from a tarball
without .git. ALLOT_MAINTAINER sets the package's Maintainer field.

Options:
  --output DIR     write the package into DIR (default: .build-release/)
  --binary-only    build the release binary only and print its path (deploy/install.sh)
  -h, --help       show this help
EOF
}

fail() {
    printf 'package.sh: %s\n' "$*" >&2
    exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/layout.sh
. "$repo/deploy/layout.sh"
scratch=$repo/.build-release
output=$scratch
binary_only=false

while [[ $# -gt 0 ]]; do
    case "$1" in
        --output) output=${2:?--output needs a directory}; shift ;;
        --binary-only) binary_only=true ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; fail "unknown option: $1" ;;
    esac
    shift
done

step() { printf '==> %s\n' "$*" >&2; }

# --- Version and commit -----------------------------------------------------------------------

version_file=$repo/Sources/AllotCore/AllotVersion.swift
version=$(sed -n 's/^ *public static let current = "\([^"]*\)".*/\1/p' "$version_file")
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || fail "cannot read a Debian-compatible version from $version_file (found '$version')"

# The short commit, `-dirty` when tracked files differ from it; ALLOT_COMMIT wins (tarballs).
build_commit() {
    if [[ -n ${ALLOT_COMMIT:-} ]]; then
        printf '%s' "$ALLOT_COMMIT"
    elif git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        local commit
        commit=$(git -C "$repo" rev-parse --short=7 HEAD)
        git -C "$repo" diff --quiet HEAD -- 2>/dev/null || commit+=-dirty
        printf '%s' "$commit"
    else
        printf 'unknown'
    fi
}
commit=$(build_commit)
[[ $commit =~ ^[A-Za-z0-9._-]+$ ]] || fail "the commit '$commit' may hold only letters, digits, '.', '_' and '-'"

# --- The binary -------------------------------------------------------------------------------

# Sources/allot/BuildInfo.swift reads this file when compiled with -DALLOT_BUILD_COMMIT. It is
# rewritten only when the commit changes, so an unchanged tree rebuilds nothing.
stamp_commit() {
    local file=$repo/Sources/allot/BuildCommit.generated.swift
    local text
    text=$(printf '%s\n' \
        '// Written by deploy/package.sh for allot --version; not in git (.gitignore).' \
        '#if ALLOT_BUILD_COMMIT' \
        "let allotBuildCommit = \"$commit\"" \
        '#endif')
    if [[ ! -f $file || $(<"$file") != "$text" ]]; then printf '%s\n' "$text" >"$file"; fi
}

build_binary() {
    command -v swift >/dev/null || fail "swift is not on PATH: install the Swift toolchain (the package itself will not need it)"
    step "Building allot $version (commit $commit) in release mode, Swift runtime linked in"
    stamp_commit
    swift build --package-path "$repo" --scratch-path "$scratch" -c release --product allot \
        --static-swift-stdlib -Xswiftc -DALLOT_BUILD_COMMIT >&2
    binary=$scratch/release/allot
    [[ -x $binary ]] || fail "the build produced no $binary"
}

build_binary
if [[ $binary_only == true ]]; then
    printf '%s\n' "$binary"
    exit 0
fi

# --- The package ------------------------------------------------------------------------------

command -v dpkg-deb >/dev/null || fail "dpkg-deb is not on PATH: apt-get install dpkg"
command -v dpkg-shlibdeps >/dev/null || fail "dpkg-shlibdeps is not on PATH: apt-get install dpkg-dev"
arch=$(dpkg --print-architecture)
mkdir -p "$output"
output=$(cd "$output" && pwd)
package=$output/allot_${version}_${arch}.deb

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/root
doc=$stage/usr/share/doc/allot

step "Staging the package's files"
install -d -m 0755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/allot/policies" \
    "$stage/usr/share/allot/schema" "$doc/licenses" "$stage/usr/share/man/man1" \
    "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
    "$stage/usr/share/fish/vendor_completions.d"
# Debug information dropped, symbols kept: crash backtraces still name functions.
strip --strip-debug -o "$stage/usr/bin/allot" "$binary"
chmod 0755 "$stage/usr/bin/allot"

for unit in allot.service allot@.service; do
    stage_unit /usr "$repo/systemd/$unit" "$stage/lib/systemd/system/$unit"
done

install -m 0644 "$repo"/docs/schema/*.schema.json "$stage/usr/share/allot/schema/"
stage_yaml /usr/share/allot/schema "$repo/deploy/allot.yaml" "$stage/etc/allot/allot.yaml"
for policy in "$repo"/policies/*.yaml; do
    stage_yaml /usr/share/allot/schema "$policy" "$stage/etc/allot/policies/$(basename "$policy")"
done
# Every file under /etc is a conffile: upgrades keep the administrator's edits.
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') >"$stage/DEBIAN/conffiles"

step "Generating shell completions and the man page from the command definitions"
"$binary" --generate-completion-script bash >"$stage/usr/share/bash-completion/completions/allot"
"$binary" --generate-completion-script zsh >"$stage/usr/share/zsh/vendor-completions/_allot"
"$binary" --generate-completion-script fish >"$stage/usr/share/fish/vendor_completions.d/allot.fish"

# swift-argument-parser's own generate-manual tool (what its generate-manual plugin runs), built
# from the checkout this build resolved, so its dump-help format matches the binary's.
parser=$scratch/checkouts/swift-argument-parser
[[ -f $parser/Package.swift ]] || fail "no swift-argument-parser checkout in $parser: the release build should have made it"
swift build --package-path "$parser" --scratch-path "$scratch/generate-manual" -c release --product generate-manual >&2
date=$(git -C "$repo" log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)
"$scratch/generate-manual/release/generate-manual" "$binary" --date "$date" --output-directory "$work" >&2
[[ -s $work/allot.1 ]] || fail "generate-manual wrote no allot.1"
gzip -9 -n -c "$work/allot.1" >"$stage/usr/share/man/man1/allot.1.gz"

install -m 0644 "$repo/docs/deployment.md" "$repo/deploy/app-registration.md" "$doc/"
install -m 0644 "$repo/deploy/debian/copyright" "$doc/copyright"
# The licenses of what is linked into the binary: the Swift runtime and every resolved package.
swift_license=$(dirname "$(readlink -f "$(command -v swift)")")/../share/swift/LICENSE.txt
if [[ -f $swift_license ]]; then install -m 0644 "$swift_license" "$doc/licenses/swift.txt"; fi
for checkout in "$scratch"/checkouts/*/; do
    for license in "$checkout"LICENSE "$checkout"LICENSE.txt "$checkout"LICENSE.md; do
        if [[ -f $license ]]; then
            install -m 0644 "$license" "$doc/licenses/$(basename "$checkout").txt"
            break
        fi
    done
done

for script in postinst prerm postrm; do
    install -m 0755 "$repo/deploy/debian/$script" "$stage/DEBIAN/$script"
done

step "Writing the control file"
# dpkg-shlibdeps needs a source package's debian/control to run in; the dependencies it finds
# are those of the libraries the binary still links dynamically (glibc, libstdc++, libgcc).
mkdir -p "$work/shlibdeps/debian"
printf 'Source: allot\n\nPackage: allot\nArchitecture: any\n' >"$work/shlibdeps/debian/control"
depends=$(cd "$work/shlibdeps" && dpkg-shlibdeps -O "$stage/usr/bin/allot" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n $depends ]] || fail "dpkg-shlibdeps found no dependencies for the binary"
installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: allot
Version: $version
Architecture: $arch
Maintainer: ${ALLOT_MAINTAINER:-Allot maintainers <maintainers@allot.invalid>}
Installed-Size: $installed_size
Depends: $depends
Recommends: systemd
Section: admin
Priority: optional
Description: Microsoft 365 license assignment as code
 Allot makes Microsoft 365 license assignment declarative: YAML policies
 say which groups and attributes get which SKUs and service plans; Allot
 shows the per-user change before it happens (allot plan), applies it within
 seat counts and a mass-removal guard, and keeps the tenant converged as a
 hardened systemd service with metrics, a status endpoint and JSON logs.
 .
 Built from commit $commit. Start with /usr/share/doc/allot/deployment.md.
EOF

step "Building $package"
# xz at level 3: about half the time of the default level 6 for a package about a tenth larger
# (measured: 28 MB instead of 25 MB, most of it the 113 MB binary).
dpkg-deb --root-owner-group -Zxz -z3 --build "$stage" "$package" >&2
printf '%s\n' "$package"

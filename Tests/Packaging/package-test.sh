#!/usr/bin/env bash
# The packaging test, run by .ci/run: builds the Debian package with deploy/package.sh, checks
# its files, control data, conffiles and maintainer scripts, unpacks it into a temporary root
# and runs the packaged allot there with LD_LIBRARY_PATH empty (the Swift runtime must be
# linked in). A shell script rather than a Swift test: it needs a release build (minutes), which
# plain `swift test` must not wait for.
#
# Usage: Tests/Packaging/package-test.sh [--package FILE]
#   --package FILE   check this .deb instead of building one (it must come from this checkout)
# Needs dpkg-deb, dpkg-shlibdeps (dpkg-dev), groff (groff-base); shellcheck when installed.
# ALLOT_PACKAGE_OUTPUT=DIR keeps the built package there (else it goes with the temporary files).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
package=""
if [[ ${1:-} == --package ]]; then package=${2:?--package needs a file}; fi

passed=0
failed=0
# check DESCRIPTION COMMAND...: runs COMMAND and counts it.
check() {
    local what=$1
    shift
    if "$@" >"$work/check.log" 2>&1; then
        passed=$((passed + 1))
        printf 'ok      %s\n' "$what"
    else
        failed=$((failed + 1))
        printf 'FAILED  %s\n' "$what"
        sed 's/^/        /' "$work/check.log" | head -n 40
    fi
}

version=$(sed -n 's/^ *public static let current = "\([^"]*\)".*/\1/p' "$repo/Sources/AllotCore/AllotVersion.swift")
arch=$(dpkg --print-architecture)
case "$(uname -m)" in
    x86_64) machine=x86_64 ;;
    aarch64 | arm64) machine=aarch64 ;;
    *) machine=unknown ;;
esac

# --- Build ------------------------------------------------------------------------------------

if [[ -z $package ]]; then
    started=$(date +%s)
    package=$("$repo/deploy/package.sh" --output "${ALLOT_PACKAGE_OUTPUT:-$work/out}" | tail -n 1)
    printf 'built   %s in %d s\n' "$package" "$(($(date +%s) - started))"
fi
check "the package is named allot_${version}_${arch}.deb" test "$(basename "$package")" = "allot_${version}_${arch}.deb"

# --- Control data -----------------------------------------------------------------------------

dpkg-deb -I "$package" >"$work/info"
dpkg-deb -e "$package" "$work/control"
field() { dpkg-deb -f "$package" "$1"; }
check "Package: allot, Version: $version, Architecture: $arch" \
    test "$(field Package) $(field Version) $(field Architecture)" = "allot $version $arch"
# Small predicates for check, each printing why it fails.
matches() { [[ $1 =~ $2 ]] || { echo "'$1' does not match $2"; return 1; }; }
lacks() { ! grep -E -- "$1" "$2"; }
depends=$(field Depends)
check "Depends names glibc (from dpkg-shlibdeps): $depends" matches "$depends" 'libc6'
check "Depends names no Swift runtime package" lacks 'swift' <(printf '%s\n' "$depends")
check "Maintainer and Description are set" matches "$(field Maintainer)|$(field Description)" '^[^|]+[|].+'

expected_conffiles=$(printf '/etc/allot/allot.yaml\n'; for policy in "$repo"/policies/*.yaml; do printf '/etc/allot/policies/%s\n' "$(basename "$policy")"; done)
check "conffiles: the configuration and every sample policy" \
    test "$(sort "$work/control/conffiles")" = "$(printf '%s\n' "$expected_conffiles" | sort)"

maintainer_script_ok() {
    local script=$1
    [[ -x $script ]] || { echo "$script is not executable"; return 1; }
    [[ $(head -n 1 "$script") == '#!/bin/sh' ]] || { echo "$script does not start with #!/bin/sh"; return 1; }
    grep -qx 'set -e' "$script" || { echo "$script has no 'set -e'"; return 1; }
    grep -q '/run/systemd/system' "$script" || { echo "$script does not check that systemd runs"; return 1; }
    sh -n "$script"
    if command -v shellcheck >/dev/null; then shellcheck -s sh "$script"; fi
}
for script in postinst prerm postrm; do
    check "maintainer script $script: executable, #!/bin/sh, set -e, systemd checked, sh -n, shellcheck" \
        maintainer_script_ok "$work/control/$script"
done

if command -v shellcheck >/dev/null; then
    check "shellcheck: deploy/*.sh and this test" shellcheck -x "$repo"/deploy/*.sh "$repo/Tests/Packaging/package-test.sh"
fi

# --- Files ------------------------------------------------------------------------------------

dpkg-deb -c "$package" >"$work/contents"
listed() { awk '{print $6}' "$work/contents" | sed 's|^\./|/|'; }
has_file() { listed | grep -qx "$1" || { echo "$1 is not in the package"; return 1; }; }
for file in /usr/bin/allot /lib/systemd/system/allot.service /lib/systemd/system/allot@.service \
    /etc/allot/allot.yaml /usr/share/allot/schema/allot.schema.json /usr/share/allot/schema/policy.schema.json \
    /usr/share/bash-completion/completions/allot /usr/share/zsh/vendor-completions/_allot \
    /usr/share/fish/vendor_completions.d/allot.fish /usr/share/man/man1/allot.1.gz \
    /usr/share/doc/allot/copyright /usr/share/doc/allot/deployment.md /usr/share/doc/allot/app-registration.md; do
    check "contains $file" has_file "$file"
done
check "every file belongs to root:root" lacks . <(awk '$2 != "root/root"' "$work/contents")
check "/usr/bin/allot is mode 0755" grep -q '^-rwxr-xr-x .* \./usr/bin/allot$' "$work/contents"
check "/etc/allot/credentials is not in the package (postinst makes it, the secret is the administrator's)" \
    lacks 'etc/allot/credentials' "$work/contents"
check "the state directories are not in the package (systemd makes them)" lacks 'var/lib' "$work/contents"

# --- Unpacked, run with no library path --------------------------------------------------------

root=$work/root
dpkg-deb -x "$package" "$root"
allot() { env LD_LIBRARY_PATH= "$root/usr/bin/allot" "$@"; }

readelf -d "$root/usr/bin/allot" | grep NEEDED >"$work/needed"
check "the binary links no Swift runtime dynamically: $(sed 's/.*\[\(.*\)\]/\1/' "$work/needed" | paste -sd ' ')" \
    lacks 'swift|Foundation|icu|dispatch' "$work/needed"
version_line=$(allot --version)
check "allot --version: '$version_line'" \
    matches "$version_line" "^allot ${version//./\\.} \\(commit [0-9a-f]{7}(-dirty)?, linux $machine\\)\$"
check "allot validate accepts the packaged configuration and policies" \
    allot validate --config "$root/etc/allot/allot.yaml"
check "the packaged configuration starts in report mode" grep -qx '  mode: report' "$root/etc/allot/allot.yaml"
check "the packaged configuration sets no usage location default" lacks '^  usageLocation:' "$root/etc/allot/allot.yaml"

modeline_ok() {
    local file=$1 schema=$2
    [[ $(head -n 1 "$file") == "# yaml-language-server: \$schema=/usr/share/allot/schema/$schema" ]] || {
        echo "$file: $(head -n 1 "$file")"
        return 1
    }
    grep -q "\"\$id\": \"file:///usr/share/allot/schema/$schema\"" "$root/usr/share/allot/schema/$schema"
}
check "allot.yaml's modeline names the installed schema, which has that \$id" \
    modeline_ok "$root/etc/allot/allot.yaml" allot.schema.json
for policy in "$root"/etc/allot/policies/*.yaml; do
    check "$(basename "$policy")'s modeline names the installed policy schema" modeline_ok "$policy" policy.schema.json
done
check "allot.service runs /usr/bin/allot" \
    grep -qx 'ExecStart=/usr/bin/allot run --config /etc/allot/allot.yaml' "$root/lib/systemd/system/allot.service"
check "allot@.service runs /usr/bin/allot" \
    grep -qx 'ExecStart=/usr/bin/allot run --config /etc/allot/%i/allot.yaml' "$root/lib/systemd/system/allot@.service"

man_page=$root/usr/share/man/man1/allot.1.gz
check "the man page is gzip" gzip -t "$man_page"
man_renders() {
    zcat "$man_page" | grep -qE '^\.(TH|Dt) ' || { echo "no .TH or .Dt header"; return 1; }
    zcat "$man_page" | groff -mandoc -Tutf8 -ww -P-cbou 2>"$work/groff.err" >"$work/man.txt"
    if [[ -s $work/groff.err ]]; then cat "$work/groff.err"; return 1; fi
    local command
    for command in validate plan apply run explain snapshot simulate demo; do
        grep -qw "$command" "$work/man.txt" || { echo "the rendered page does not mention $command"; return 1; }
    done
}
check "the man page renders with groff, without warnings, and names every subcommand" man_renders

completions_ok() {
    local file=$1 command
    for command in validate plan apply run explain snapshot simulate demo; do
        grep -qw "$command" "$file" || { echo "$file does not complete $command"; return 1; }
    done
}
check "bash completion is valid bash" bash -n "$root/usr/share/bash-completion/completions/allot"
check "bash completion names every subcommand" completions_ok "$root/usr/share/bash-completion/completions/allot"
check "zsh completion starts with #compdef allot" matches "$(head -n 1 "$root/usr/share/zsh/vendor-completions/_allot")" '^#compdef allot$'
check "zsh completion names every subcommand" completions_ok "$root/usr/share/zsh/vendor-completions/_allot"
check "fish completion names every subcommand" completions_ok "$root/usr/share/fish/vendor_completions.d/allot.fish"
check "the licenses of what is linked in are shipped (swift-nio's among them)" \
    test -f "$root/usr/share/doc/allot/licenses/swift-nio.txt"

printf '\npackaging: %d passed, %d failed\n' "$passed" "$failed"
[[ $failed -eq 0 ]]

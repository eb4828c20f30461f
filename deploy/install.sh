#!/usr/bin/env bash
# Installs Allot from source as a systemd service, upgrades it in place, or removes it.
# docs/deployment.md is the guide; `deploy/install.sh --help` lists the options. Servers
# without a Swift toolchain install the Debian package instead (deploy/package.sh).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/install.sh [OPTIONS]

Builds Allot in release mode (deploy/package.sh --binary-only) and installs it as the
systemd service `allot`:
  /usr/local/bin/allot                        the binary (replaced on every run)
  /etc/systemd/system/allot.service           the unit (replaced on every run)
  /etc/systemd/system/allot@.service          the unit for several tenants (replaced on every run)
  /etc/allot/allot.yaml                       from deploy/allot.yaml, only if absent
  /etc/allot/policies/                        from policies/, only if absent
  /etc/allot/credentials/client-secret        root-only, mode 0600, only if absent
  /usr/local/share/allot/schema/              the JSON Schemas the configuration's modelines name
  /usr/local/share/doc/allot/                 the deployment and app registration guides
then runs `allot validate`, `systemctl daemon-reload`, and restarts the service if it was
running. Running it again is safe: it never overwrites configuration, policies or secrets.

The client secret is read from standard input when that is not a terminal, otherwise from a
prompt that does not echo. It is never taken from an argument.

Options:
  --binary PATH          install this prebuilt allot binary instead of building one
  --replace-secret       read a new client secret even though one is installed
  --certificate PATH     authenticate with a certificate instead of a secret: install this PEM
                         certificate and the key below as systemd credentials
  --private-key PATH     the certificate's PEM private key (with --certificate)
  --no-credential        install no secret (workload identity federation, managed identity)
  --uninstall            stop and remove the services, binary and units; keep /etc/allot and
                         the state in /var/lib/allot (and /var/lib/allot-NAME)
  --purge                with --uninstall: remove /etc/allot and the state as well
  --root DIR             install below DIR instead of / (images, chroots, tests); skips systemctl
  --dry-run              print the steps without changing anything
  -h, --help             show this help
EOF
}

# --- Options ----------------------------------------------------------------------------------

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/layout.sh
. "$repo/deploy/layout.sh"
root=""
binary=""
certificate=""
private_key=""
credential_mode=secret
replace_secret=false
uninstall=false
purge=false
dry_run=false
secret=""

fail() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) binary=${2:?--binary needs a path}; shift ;;
        --replace-secret) replace_secret=true ;;
        --certificate) certificate=${2:?--certificate needs a path}; credential_mode=certificate; shift ;;
        --private-key) private_key=${2:?--private-key needs a path}; shift ;;
        --no-credential) credential_mode=none ;;
        --uninstall) uninstall=true ;;
        --purge) purge=true ;;
        --root) root=${2:?--root needs a directory}; shift ;;
        --dry-run) dry_run=true ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; fail "unknown option: $1" ;;
    esac
    shift
done

if [[ $purge == true && $uninstall == false ]]; then fail "--purge goes with --uninstall"; fi
if [[ $credential_mode == certificate && -z $private_key ]]; then fail "--certificate needs --private-key"; fi
if [[ -n $private_key && $credential_mode != certificate ]]; then fail "--private-key goes with --certificate"; fi
if [[ -n $root ]]; then root=$(realpath -m "$root"); fi

# Source installs live under /usr/local; the Debian package uses /usr.
prefix=/usr/local
bin_path=$root$prefix/bin/allot
unit_dir=$root/etc/systemd/system
unit_path=$unit_dir/allot.service
template_path=$unit_dir/allot@.service
dropin_dir=$unit_dir/allot.service.d
dropin_path=$dropin_dir/credentials.conf
doc_dir=$root$prefix/share/doc/allot
schema_dir=$prefix/share/allot/schema
config_dir=$root/etc/allot
credentials_dir=$config_dir/credentials
secret_path=$credentials_dir/client-secret

# Ownership is set only when installing as root; --root as another user keeps the caller's.
owner_args=()
if [[ $(id -u) -eq 0 ]]; then owner_args=(-o root -g root); fi

# --- Steps ------------------------------------------------------------------------------------

step() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }

# Runs a command, or only prints it with --dry-run.
run() {
    if [[ $dry_run == true ]]; then
        printf '    $ %s\n' "$*"
    else
        "$@"
    fi
}

# systemctl is used only on a live system running systemd, never with --root.
have_systemd() {
    [[ -z $root && -d /run/systemd/system ]] && command -v systemctl >/dev/null
}

service_active() {
    have_systemd && systemctl is-active --quiet allot.service
}

build_binary() {
    if [[ -n $binary ]]; then
        [[ -x $binary ]] || fail "$binary is not an executable file"
        step "Using the prebuilt binary $binary"
        return
    fi
    step "Building allot in release mode (deploy/package.sh --binary-only)"
    command -v swift >/dev/null || fail "swift is not on PATH; install the Swift toolchain, or pass --binary PATH"
    # The same build as the Debian package's: the Swift runtime linked in (the installed binary
    # needs no toolchain at run time) and the commit stamped for `allot --version`.
    local build=("$repo/deploy/package.sh" --binary-only)
    # Under sudo, build as the invoking user so .build-release/ stays theirs.
    if [[ $(id -u) -eq 0 && -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
        build=(sudo -u "$SUDO_USER" -- "${build[@]}")
    fi
    if [[ $dry_run == true ]]; then
        run "${build[@]}"
        binary="$repo/.build-release/release/allot"
    else
        # package.sh prints the binary's path last on standard output; its build log goes to stderr.
        binary=$("${build[@]}" | tail -n 1)
        [[ -x $binary ]] || fail "the build did not produce an executable (got '$binary')"
    fi
}

# install_staged MODE STAGE SOURCE TARGET: installs SOURCE as TARGET after `STAGE ARG SOURCE
# FILE` (stage_unit or stage_yaml from deploy/layout.sh) adapted it to this layout.
install_staged() {
    local mode=$1 stage=$2 argument=$3 source=$4 target=$5
    if [[ $dry_run == true ]]; then
        printf '    $ install -m %s %s %s   (%s %s)\n' "$mode" "$source" "$target" "$stage" "$argument"
        return
    fi
    local staged
    staged=$(mktemp)
    "$stage" "$argument" "$source" "$staged"
    install -m "$mode" "${owner_args[@]}" "$staged" "$target"
    rm -f "$staged"
}

install_files() {
    step "Installing the binary to $bin_path and the units to $unit_dir"
    run mkdir -p "$(dirname "$bin_path")" "$unit_dir" "$doc_dir" "$root$schema_dir"
    if [[ -e $bin_path && $(realpath "$binary") == $(realpath "$bin_path") ]]; then
        note "kept $bin_path (it is the binary given)"
    else
        run install -m 0755 "${owner_args[@]}" "$binary" "$bin_path"
    fi
    install_staged 0644 stage_unit "$prefix" "$repo/systemd/allot.service" "$unit_path"
    install_staged 0644 stage_unit "$prefix" "$repo/systemd/allot@.service" "$template_path"
    run install -m 0644 "${owner_args[@]}" "$repo/docs/deployment.md" "$repo/deploy/app-registration.md" "$doc_dir/"
    run install -m 0644 "${owner_args[@]}" "$repo"/docs/schema/*.schema.json "$root$schema_dir/"

    step "Installing the configuration to $config_dir"
    run install -d -m 0755 "${owner_args[@]}" "$config_dir"
    if [[ -e $config_dir/allot.yaml ]]; then
        note "kept the existing $config_dir/allot.yaml"
    else
        [[ -f $repo/deploy/allot.yaml ]] || fail "$repo/deploy/allot.yaml is missing from this checkout"
        install_staged 0644 stage_yaml "$schema_dir" "$repo/deploy/allot.yaml" "$config_dir/allot.yaml"
        note "installed $config_dir/allot.yaml (report mode): set tenant and auth.clientId in it"
    fi
    if [[ -e $config_dir/policies ]]; then
        note "kept the existing $config_dir/policies/"
    elif [[ -d $repo/policies ]]; then
        # Mode 0644: the service's dynamic user must be able to read every policy.
        run install -d -m 0755 "${owner_args[@]}" "$config_dir/policies"
        local policy
        for policy in "$repo"/policies/*.yaml "$repo"/policies/*.yml; do
            [[ -f $policy ]] || continue
            install_staged 0644 stage_yaml "$schema_dir" "$policy" "$config_dir/policies/$(basename "$policy")"
        done
        note "installed the sample policies to $config_dir/policies/: review them before starting"
    else
        run install -d -m 0755 "${owner_args[@]}" "$config_dir/policies"
        note "created an empty $config_dir/policies/: add your policy files there"
    fi
}

# Reads the secret without it ever appearing in an argument, the environment or the terminal.
read_secret() {
    local secret=""
    if [[ -t 0 ]]; then
        read -r -s -p "Client secret of the Allot app registration (input hidden): " secret
        printf '\n' >&2
    else
        secret=$(cat)
    fi
    secret=${secret%$'\n'}
    [[ -n $secret ]] || fail "the client secret is empty; nothing was written"
    printf '%s' "$secret"
}

install_credentials() {
    step "Installing credentials to $credentials_dir (root only)"
    run install -d -m 0700 "${owner_args[@]}" "$credentials_dir"
    case "$credential_mode" in
        secret)
            if [[ -s $secret_path && $replace_secret == false ]]; then
                note "kept the existing client secret (--replace-secret reads a new one)"
            elif [[ $dry_run == true ]]; then
                note "would write the client secret to $secret_path, mode 0600"
            else
                # Created 0600 before a byte is written, then renamed into place.
                (umask 077 && printf '%s' "$secret" >"$secret_path.new")
                if [[ ${#owner_args[@]} -gt 0 ]]; then chown root:root "$secret_path.new"; fi
                mv -f "$secret_path.new" "$secret_path"
                secret=""
                note "wrote $secret_path (mode 0600)"
            fi
            if [[ -e $dropin_path ]]; then run rm -f "$dropin_path"; fi
            ;;
        certificate)
            [[ -r $certificate && -r $private_key ]] || fail "cannot read $certificate or $private_key"
            run install -m 0600 "${owner_args[@]}" "$certificate" "$credentials_dir/client-certificate.pem"
            run install -m 0600 "${owner_args[@]}" "$private_key" "$credentials_dir/client-key.pem"
            write_dropin "LoadCredential=client-certificate:/etc/allot/credentials/client-certificate.pem" \
                "LoadCredential=client-key:/etc/allot/credentials/client-key.pem"
            note "set auth.certificate in allot.yaml to"
            note "  { certificateFile: /run/credentials/allot.service/client-certificate,"
            note "    privateKeyFile: /run/credentials/allot.service/client-key }"
            ;;
        none)
            write_dropin
            note "no secret installed: configure auth.federatedTokenFile or auth.managedIdentity"
            ;;
    esac
}

# Replaces the unit's client-secret credential with the given LoadCredential= lines.
write_dropin() {
    run mkdir -p "$dropin_dir"
    if [[ $dry_run == true ]]; then
        note "would write $dropin_path"
        return
    fi
    {
        printf '# Written by deploy/install.sh: the credentials Allot loads instead of client-secret.\n'
        printf '[Service]\nLoadCredential=\n'
        if [[ $# -gt 0 ]]; then printf '%s\n' "$@"; fi
    } >"$dropin_path"
    chmod 0644 "$dropin_path"
}

validate_config() {
    step "Validating $config_dir/allot.yaml"
    if [[ $dry_run == true ]]; then
        run "$bin_path" validate --config "$config_dir/allot.yaml"
        return 0
    fi
    if "$bin_path" validate --config "$config_dir/allot.yaml"; then
        return 0
    fi
    note "the configuration is not valid yet: fix the problems above, then run"
    note "  sudo allot validate"
    return 1
}

reload_systemd() {
    if ! have_systemd; then
        note "systemd is not running here (or --root was given): skipped systemctl daemon-reload"
        return
    fi
    step "Reloading systemd"
    run systemctl daemon-reload
}

install_allot() {
    if [[ -z $root && $dry_run == false && $(id -u) -ne 0 ]]; then
        fail "run as root (sudo deploy/install.sh), or try --dry-run"
    fi
    local was_active=false
    if service_active; then was_active=true; fi

    # Ask for the secret first, so that a missing one stops the script before it changes anything.
    if [[ $credential_mode == secret && $dry_run == false && ( ! -s $secret_path || $replace_secret == true ) ]]; then
        secret=$(read_secret)
    fi

    build_binary
    install_files
    install_credentials
    local valid=true
    validate_config || valid=false
    reload_systemd

    if [[ $was_active == true && $valid == true ]]; then
        step "Restarting the running service on the new binary"
        run systemctl restart allot.service
    elif [[ $was_active == true ]]; then
        note "allot.service keeps running the previous binary until the configuration is valid"
    fi

    cat <<EOF

Next steps:
  1. Register the Entra application and grant admin consent: $prefix/share/doc/allot/app-registration.md
  2. Edit /etc/allot/allot.yaml (tenant, auth.clientId, reconcile.managedSkus) and the
     policies in /etc/allot/policies/, then:  sudo allot validate
  3. Preview what Allot would change:        sudo allot plan
     (with the same secret and state file as the service, which need not run)
  4. Start it and start it at boot:          sudo systemctl enable --now allot
  5. Follow it:                              journalctl -u allot -f -o cat
                                             curl -s http://127.0.0.1:9464/status
It starts in report mode; /etc/allot/allot.yaml says how to switch to enforce.
EOF
    [[ $valid == true ]]
}

uninstall_allot() {
    if [[ -z $root && $dry_run == false && $(id -u) -ne 0 ]]; then
        fail "run as root (sudo deploy/install.sh --uninstall), or try --dry-run"
    fi
    if have_systemd; then
        step "Stopping and disabling allot.service and its tenant instances"
        local units=(allot.service) link
        for link in /etc/systemd/system/*.wants/allot@*.service; do
            [[ -e $link || -L $link ]] && units+=("$(basename "$link")")
        done
        run systemctl disable --now "${units[@]}" || true
        run systemctl stop 'allot@*.service' || true
    fi
    step "Removing the binary, the units, the schemas and the guides"
    run rm -f "$bin_path" "$unit_path" "$template_path" "$dropin_path"
    if [[ -d $dropin_dir ]]; then run rmdir --ignore-fail-on-non-empty "$dropin_dir"; fi
    run rm -rf "$doc_dir" "$root$prefix/share/allot"
    reload_systemd
    if [[ $purge == true ]]; then
        step "Purging the configuration, policies, credentials and state"
        # DynamicUser= keeps each unit's state in /var/lib/private/NAME, reached through /var/lib/NAME.
        local state=("$root/var/lib/allot" "$root/var/lib/private/allot")
        local instance
        for instance in "$root"/var/lib/allot-* "$root"/var/lib/private/allot-*; do
            [[ -e $instance || -L $instance ]] && state+=("$instance")
        done
        run rm -rf "$config_dir" "${state[@]}"
    else
        note "kept $config_dir (configuration, policies, credentials) and the state in /var/lib/allot"
        note "remove them too with: deploy/install.sh --uninstall --purge"
    fi
}

if [[ $dry_run == true ]]; then step "Dry run: nothing is changed"; fi
if [[ $uninstall == true ]]; then uninstall_allot; else install_allot; fi

# shellcheck shell=bash
# The installed layout, shared by deploy/install.sh (source installs under /usr/local) and
# deploy/package.sh (the Debian package, under /usr). Sourced, not run.
#
# The repository's files are written for the package: the units run /usr/bin/allot and point
# at /usr/share/doc/allot; the sample configuration and policies name their JSON Schema with a
# modeline relative to the repository (`# yaml-language-server: $schema=../docs/schema/...`).
# These functions copy them with the paths of the layout they are installed into.

# stage_unit PREFIX SOURCE TARGET: a systemd unit with /usr/bin/allot and /usr/share/doc/allot
# moved under PREFIX (/usr leaves it as it is).
stage_unit() {
    local prefix=$1 source=$2 target=$3
    sed -e "s|/usr/bin/allot|$prefix/bin/allot|g" \
        -e "s|/usr/share/doc/allot|$prefix/share/doc/allot|g" \
        "$source" >"$target"
}

# stage_yaml SCHEMA_DIRECTORY SOURCE TARGET: a configuration or policy file whose
# yaml-language-server modeline (first line) names the same schema file in SCHEMA_DIRECTORY.
stage_yaml() {
    local schemas=$1 source=$2 target=$3
    sed -e "1s|^\(# yaml-language-server: \$schema=\).*/\([A-Za-z0-9_.-]*\.json\)\$|\1$schemas/\2|" \
        "$source" >"$target"
}

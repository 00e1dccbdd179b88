#!/usr/bin/env bash
# make deb: libapache2-mod-userbulk_<version>_<arch>.deb from debian/, built
# in a copy of the tree under .build/deb/ (dpkg-buildpackage writes its
# outputs beside the source directory: there, not in the tree's parent),
# then checked by lintian (any error or warning fails). The .deb's path is
# the last line of the output.
#
#   tools/deb.sh [VERSION]
#
# VERSION: build as this version instead of debian/changelog's (a changelog
# entry is added in the copy): tests/t/deb.t's upgrade.
# UB_DEB_NOCHECK=1: the unit tests are not run during the build
# (DEB_BUILD_OPTIONS=nocheck; make test runs them anyway).
# UB_DEB_NO_LINTIAN=1: no lintian run (tests/t/deb.t's second build, which
# differs from the first by its changelog only).
set -euo pipefail

UB_PROG=deb.sh
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for t in dpkg-buildpackage dh dh_apache2 lintian; do
    command -v "$t" >/dev/null || ub_die "$t is missing (make deps installs dpkg-dev, debhelper, apache2-dev, lintian)"
done

OUT=$UB_ROOT/.build/deb
version=${1:-}
src=$OUT/mod-userbulk
rm -rf "$OUT"
mkdir -p "$src"
# The tree without the build outputs, run-time state and git.
tar -C "$UB_ROOT" --exclude=./.git --exclude=./.build --exclude=./.build-asan \
    --exclude=./.run --exclude=./tests/t/logs -cf - . | tar -C "$src" -xf -

if [[ -n $version ]]; then
    [[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || ub_die "not a native package version: $version"
    {
        printf 'mod-userbulk (%s) unstable; urgency=medium\n\n' "$version"
        printf '  * Rebuilt as %s by tools/deb.sh.\n\n' "$version"
        printf ' -- %s  %s\n\n' "$(sed -n 's/^Maintainer: //p' "$src/debian/control")" "$(date -R)"
        cat "$src/debian/changelog"
    } >"$src/debian/changelog.new"
    mv "$src/debian/changelog.new" "$src/debian/changelog"
fi

opts=${DEB_BUILD_OPTIONS:-}
[[ ${UB_DEB_NOCHECK:-0} != 1 ]] || opts="$opts nocheck"
(cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -b -us -uc) >"$OUT/build.log" 2>&1 ||
    { tail -n 40 "$OUT/build.log" >&2; ub_die "dpkg-buildpackage failed (log: $OUT/build.log)"; }

deb=$(find "$OUT" -maxdepth 1 -name 'libapache2-mod-userbulk_*.deb' | head -n1)
[[ -n $deb ]] || ub_die "no .deb in $OUT (log: $OUT/build.log)"

# debian/libapache2-mod-userbulk.lintian-overrides explains each tag it silences.
if [[ ${UB_DEB_NO_LINTIAN:-0} != 1 ]]; then
    lintian --fail-on error,warning --display-info "$OUT"/mod-userbulk_*.changes ||
        ub_die "lintian found errors or warnings in $deb"
fi

printf '%s\n' "$deb"

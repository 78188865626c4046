#!/usr/bin/env bash
# Installs a synctool .deb on a clean machine and uses it there: a Debian bookworm minbase
# made by debootstrap into a folder (a fresh one each time), apt resolving the package's Depends
# from Debian's archive, then synctool --version, the man page, the bash completion, init + check
# of a HubSpot -> Mailchimp project (fails naming the unset variables, passes once set), and init
# + check + two runs of a CSV -> SQLite project. Needs root (debootstrap, chroot) and Debian's
# archive (DEBIAN_MIRROR, default the host's). scripts/package --test runs it.
#   tests/package/test-install.sh DEB [FOLDER]     (FOLDER default: beside DEB, clean-debian)
# Environment: DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, EXPECT_BUILD (default Release).
set -euo pipefail
deb=$(realpath "$1")
target=${2:-$(dirname "$deb")/clean-debian}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
expect_build=${EXPECT_BUILD:-Release}  # what `synctool --version` says after "build: "
start=$SECONDS
say() { echo "test-install: $*"; }
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap and chroot)"
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

cleanup() {
  umount "$target/proc" 2>/dev/null || true
  if mountpoint -q "$target/proc" 2>/dev/null; then fail "cannot unmount $target/proc"; fi
  rm -rf --one-file-system "$target"
}
trap cleanup EXIT
cleanup

say "debootstrap bookworm minbase into $target"
debootstrap --variant=minbase bookworm "$target" "$mirror" >"$target.log" 2>&1 || { tail -20 "$target.log" >&2; fail "debootstrap"; }
rm -f "$target.log"
cat >"$target/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
SOURCES
cp /etc/resolv.conf "$target/etc/resolv.conf"
mount -t proc proc "$target/proc"
say "debootstrap took $((SECONDS - start)) s"

cp "$deb" "$target/tmp/"
in_root() { chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
in_root apt-get update -qq
in_root bash -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb")" \
  >"$target/tmp/apt.log" 2>&1 || { cat "$target/tmp/apt.log" >&2; fail "apt-get install"; }
say "installed with its Depends: $(in_root dpkg-query -W -f='${Depends}' synctool)"

in_root env "expect_build=$expect_build" bash -euo pipefail -c '
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }
[ "$(command -v synctool)" = /usr/bin/synctool ] || fail "synctool is not /usr/bin/synctool"

version=$(synctool --version)
echo "$version" | sed "s/^/  /"
echo "$version" | head -n 1 | grep -Eq "^synctool [0-9]+\.[0-9]+\.[0-9]+$" || fail "--version first line: $version"
echo "$version" | grep -q "^commit: " || fail "--version has no commit line"
echo "$version" | grep -qx "build: $expect_build" || fail "--version: not \"build: $expect_build\": $version"

# The man page: installed, gzipped, and a page of synctool (with every command in it).
page=/usr/share/man/man1/synctool.1.gz
[ -f $page ] || fail "no $page"
zcat $page | grep -q "^\.TH SYNCTOOL \"1\"" || fail "$page has no .TH SYNCTOOL 1"
for command in init check diff run status; do
  zcat $page | grep -q "^\.SS \"synctool $command\"" || fail "the man page lacks the command $command"
done

# The bash completion: commands, then connection types after init.
. /usr/share/bash-completion/completions/synctool
complete -p synctool | grep -q _synctool || fail "no completion registered"
COMP_WORDS=(synctool in); COMP_CWORD=1; _synctool
[ "${COMPREPLY[*]}" = init ] || fail "completing \"synctool in\" gave: ${COMPREPLY[*]}"
COMP_WORDS=(synctool init hub); COMP_CWORD=2; _synctool
[ "${COMPREPLY[*]}" = hubspot ] || fail "completing \"synctool init hub\" gave: ${COMPREPLY[*]}"

mkdir -p /tmp/work && cd /tmp/work
# HubSpot -> Mailchimp: check names the unset variables, and passes once they are set.
synctool init hubspot mailchimp --dir hm
if (cd hm && synctool check) 2>check.err; then fail "check passed without HUBSPOT_TOKEN"; fi
grep -q "environment variable HUBSPOT_TOKEN is not set" check.err || fail "check did not name HUBSPOT_TOKEN: $(cat check.err)"
grep -q "environment variable MAILCHIMP_API_KEY is not set" check.err || fail "check did not name MAILCHIMP_API_KEY"
(cd hm && HUBSPOT_TOKEN=pat-na1-test MAILCHIMP_API_KEY=0123456789abcdef0123456789abcdef-us6 synctool check) \
  || fail "check with the variables set"

# CSV -> SQLite: runs as written.
synctool init csv sqlite --dir cs
cd cs
printf "%s\n" "ann.lee@northwind-mail.com,Ann,Lee" " Bob.Stone@Contoso-Mail.com , Bob ,Stone" >>csv/contacts.csv
synctool check
# (No jq nor sqlite3 here: the --json report is read with grep, one key a line.)
synctool run csv-sqlite --json >run1.json || fail "first run: $(cat run1.json)"
grep -q "\"created\": 2," run1.json || fail "first run did not create 2: $(cat run1.json)"
synctool run csv-sqlite --json >run2.json || fail "second run: $(cat run2.json)"
grep -q "\"created\": [1-9]" run2.json && fail "second run wrote: $(cat run2.json)"
synctool status
'
in_root dpkg -r synctool >/dev/null
in_root test ! -e /usr/bin/synctool || fail "dpkg -r left /usr/bin/synctool"
say "passed in $((SECONDS - start)) s"

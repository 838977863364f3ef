#!/usr/bin/env bash
# Builds the Debian package from the repository: target/debian/enrolgen_VERSION-1_ARCH.deb
#   bash scripts/package-deb.sh
# With dpkg-deb (Debian's own tool) from the release binary and the files in
# packaging/debian/: the program, one man page per subcommand, bash/zsh/fish
# completions, the reference configuration as a conffile in /etc/enrolgen, the
# systemd units, the demo and examples under /usr/share/doc/enrolgen.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
need=()
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
command -v dpkg-shlibdeps >/dev/null 2>&1 || need+=(dpkg-dev)
command -v strip >/dev/null 2>&1 || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo build --release --locked --quiet
bin=target/release/enrolgen
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)-1"
arch="$(dpkg --print-architecture)"
# Reproducible: every date is the last commit's.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
out=target/debian
root="$out/root"
rm -rf "$root"
mkdir -p "$root/DEBIAN"
umask 022

install -D -m 0755 "$bin" "$root/usr/bin/enrolgen"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/enrolgen"

man="$root/usr/share/man/man1"
mkdir -p "$man"
"$bin" man --dir "$man"
gzip -9n "$man"/*.1

install -d "$root/usr/share/bash-completion/completions" \
  "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d"
"$bin" completions bash > "$root/usr/share/bash-completion/completions/enrolgen"
"$bin" completions zsh > "$root/usr/share/zsh/vendor-completions/_enrolgen"
"$bin" completions fish > "$root/usr/share/fish/vendor_completions.d/enrolgen.fish"

# The conffile is short (a comment changed in the reference never prompts on
# upgrade); the reference, every key with its default, goes with the examples.
install -D -m 0644 packaging/debian/enrolgen.yaml "$root/etc/enrolgen/enrolgen.yaml"
install -D -m 0644 packaging/debian/enrolgen.service "$root/lib/systemd/system/enrolgen.service"
install -D -m 0644 packaging/debian/enrolgen.timer "$root/lib/systemd/system/enrolgen.timer"

doc="$root/usr/share/doc/enrolgen"
install -D -m 0644 packaging/debian/copyright "$doc/copyright"
install -m 0644 README.md "$doc/README.md"
gzip -9n "$doc/README.md"
# The guides the README links to, by task.
install -d "$doc/docs"
install -m 0644 docs/*.md "$doc/docs/"
gzip -9n "$doc"/docs/*.md
install -d "$doc/examples/demo" "$doc/examples/systemd"
install -m 0644 examples/demo/* "$doc/examples/demo/"
install -m 0644 packaging/debian/credentials.conf "$doc/examples/systemd/credentials.conf"
install -m 0644 examples/cron/crontab "$doc/examples/crontab"
install -m 0644 config/enrolgen.yaml "$doc/examples/enrolgen.yaml"
install -m 0644 config/pegase-readonly.sql "$doc/examples/pegase-readonly.sql"
# The scripts that make the custom reports a platform may name (docs/webservices.md).
install -d "$doc/examples/moodle"
install -m 0644 scripts/moodle/*.php "$doc/examples/moodle/"
printf '%s (%s) unstable; urgency=medium\n\n  * Built from the enrolgen repository by scripts/package-deb.sh.\n\n -- enrolgen maintainers <enrolgen@example.fr>  %s\n' \
  enrolgen "$version" "$(date -R -u -d "@$SOURCE_DATE_EPOCH")" | gzip -9n > "$doc/changelog.Debian.gz"
install -D -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/enrolgen"

for s in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$s" "$root/DEBIAN/$s"
done
install -m 0644 packaging/debian/conffiles "$root/DEBIAN/conffiles"

# The shared libraries the program needs, as dpkg-shlibdeps finds them.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/debian"
printf 'Source: enrolgen\n\nPackage: enrolgen\nArchitecture: any\n' > "$tmp/debian/control"
depends="$(cd "$tmp" && dpkg-shlibdeps -O "$OLDPWD/$root/usr/bin/enrolgen" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
size="$(du -k -s --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  packaging/debian/control.in > "$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum) \
  > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb="$out/enrolgen_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

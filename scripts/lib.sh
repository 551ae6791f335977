# Shared by scripts/demo and scripts/test: find the PostgreSQL major,
# install what is missing from Debian's packages, build and install the
# extension.  Works as root and as a user with sudo.

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

# The major to build for: $PG_MAJOR, else the one this Debian release ships.
if [ -z "${PG_MAJOR:-}" ]; then
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	case "$codename" in
		bullseye) PG_MAJOR=13 ;;
		bookworm) PG_MAJOR=15 ;;
		trixie) PG_MAJOR=17 ;;
		*) PG_MAJOR=18 ;;
	esac
fi
export PG_MAJOR
# The server to build for: $PG_CONFIG when set (another build of that
# major, e.g. an assert-enabled one), else Debian's.
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
export PG_CONFIG

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "rowversion: need root or sudo to run: $*" >&2
		exit 1
	fi
}

# Installs the named Debian packages that are not installed yet.
install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
			|| missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "rowversion: installing ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}

# Installs the build and test dependencies, then builds (warnings are
# errors) and installs the extension into that major's directories.
setup() {
	install_packages make gcc "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
		postgresql-common
	make -s PG_CONFIG="$PG_CONFIG" COPT=-Werror
	as_root make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# Builds and installs the benchmarks' floor trigger (test/bench/floor).
install_bench_floor() {
	make -s -C test/bench/floor PG_CONFIG="$PG_CONFIG"
	as_root make -s -C test/bench/floor PG_CONFIG="$PG_CONFIG" install >/dev/null
	make -s -C test/bench/floor PG_CONFIG="$PG_CONFIG" clean
}

# Installs clang's sanitizer and libFuzzer runtime (libclang-rt-NN-dev) for
# the clang that the server's development package brought, for test/fuzz.
install_fuzz_runtime() {
	local cc
	cc=$(ls /usr/bin/clang-[0-9]* 2>/dev/null | sort -V | tail -1)
	if [ -z "$cc" ]; then
		install_packages clang
		cc=$(ls /usr/bin/clang-[0-9]* 2>/dev/null | sort -V | tail -1)
	fi
	# (older releases ship the runtime with clang itself: no such package)
	install_packages "libclang-rt-${cc##*clang-}-dev" 2>/dev/null ||
		echo "rowversion: no libclang-rt-${cc##*clang-}-dev here; fuzzing with what clang has"
	export CLANG=$cc
}

# Installs what the client tests (test/clients/run) need: Debian's Python
# packages, for /usr/bin/python3; Debian's node and npm when there is no
# node; and the Node modules that test/clients/node/package-lock.json pins.
install_clients() {
	install_packages python3 python3-psycopg2 python3-flask python3-flask-sqlalchemy \
		python3-sqlalchemy python3-django python3-djangorestframework
	if ! command -v node >/dev/null 2>&1; then
		install_packages nodejs npm
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "rowversion: node is installed without npm; install npm for it" >&2
		return 1
	fi
	(cd test/clients/node && npm ci --no-audit --no-fund --loglevel=error)
}

# Runs a command as the user postgres in a copy of the tree when we are
# root (initdb, and with it PostgreSQL::Test::Cluster, refuses to run as
# root); as anyone else, in the tree itself.  The copy is removed
# afterwards; what it left in tmp_check/ (the TAP tests' logs, and the data
# directories of failed tests) comes back into the tree's tmp_check/.
run_unprivileged() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
		return
	fi
	local copy rc=0
	copy=$(mktemp -d "${TMPDIR:-/tmp}/rowversion-XXXXXX")
	tar -C "$top" --exclude=./.git --exclude=./tmp_check --exclude=./results \
		--exclude=./output_iso --exclude=./test/clients/node/node_modules -cf - . |
		tar -C "$copy" -xf -
	chown -R postgres: "$copy"
	(cd "$copy" && runuser -u postgres -- "$@") || rc=$?
	if [ -d "$copy/tmp_check" ]; then
		mkdir -p "$top/tmp_check"
		cp -r "$copy/tmp_check/." "$top/tmp_check/"
	fi
	rm -rf "$copy"
	return $rc
}

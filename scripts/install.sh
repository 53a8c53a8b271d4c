#!/usr/bin/env bash
# The fast path: makes `nhs-auth` a command on PATH that starts in one JVM, with its own
# class-data-sharing archive, instead of JBang's launcher JVM plus the script's.
#
#   scripts/install.sh [--prefix DIR]      (default DIR: $NHS_AUTH_PREFIX, else ~/.local;
#                                            the command goes to DIR/bin)
#
# Re-run it after updating the repository. `nhs-auth <command> ...` then takes exactly the
# options of `./jbang <command> ...`.
set -euo pipefail

die() { printf 'install: %s\n' "$1" >&2; exit "${2:-2}"; }

prefix="${NHS_AUTH_PREFIX:-$HOME/.local}"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1': use --prefix DIR" ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
lib="$prefix/lib/nhs-auth"
bin="$prefix/bin"
mkdir -p "$lib" "$bin" || die "cannot create '$lib' or '$bin': choose another --prefix"

if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  java_cmd="$JAVA_HOME/bin/java"
else
  java_cmd=$(command -v java) || die "no Java found: install a JDK 17 or newer or set JAVA_HOME"
fi

# A fresh export in a staging folder, swapped in whole, so a running nhs-auth never sees half a jar.
stage=$(mktemp -d "$lib/.install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
"$repo/jbang" export portable --force -O "$stage/nhs-auth.jar" "$repo/scripts/NhsAuth.java" >&2 \
  || die "jbang export failed (output above)" 1

rm -rf "${lib:?}/lib" "$lib/nhs-auth.jar" "$lib/nhs-auth.jsa"
mv "$stage/lib" "$stage/nhs-auth.jar" "$lib/"

# One training run through every command lists the classes they load (the demo exercises them
# all offline); a static archive is then dumped from that list. Unlike the dynamic archive of
# -XX:ArchiveClassesAtExit, it can hold picocli's Java 5 class files, but JDK 17 leaves out an old
# class the dump has linked, and every class using it: a listed lambda that implements a picocli
# interface links that interface, so those few lambdas are left off the list (they are made at run
# time) and picocli's classes go in. Classes from signed jars (BouncyCastle) are never archived.
# The archive remembers the jar's path, so it is made in place.
if "$java_cmd" -XX:DumpLoadedClassList="$stage/nhs-auth.classlist" -XX:+UseSerialGC -Xlog:disable -Xlog:all=off \
     -jar "$lib/nhs-auth.jar" demo --key-size 2048 >/dev/null 2>&1 \
   && grep -v '^@lambda-proxy.*picocli/' "$stage/nhs-auth.classlist" >"$stage/archived.classlist" \
   && "$java_cmd" -Xshare:dump -XX:SharedClassListFile="$stage/archived.classlist" \
     -XX:SharedArchiveFile="$stage/nhs-auth.jsa" -Xlog:disable -Xlog:all=off -cp "$lib/nhs-auth.jar" >/dev/null 2>&1; then
  mv "$stage/nhs-auth.jsa" "$lib/nhs-auth.jsa"
else
  printf 'install: no class-data-sharing archive (training run failed); nhs-auth still works, starting slower\n' >&2
fi

# -Xshare:auto falls back silently to no archive when the JDK changes; -Xlog:disable keeps
# CDS notices off stdout, which carries results. The -D options are the scripts' own
# //RUNTIME_OPTIONS (scripts/nhsauth/client/NhsProxies.java, scripts/nhsauth/cli/NhsCli.java), which a plain java -jar does not
# read. Short commands start faster on the C1 compiler alone, in one compiler thread that leaves the
# other cores to the command, and stay smaller with a small young generation; key generation and the
# mock server need C2's big-number speed.
cat >"$bin/nhs-auth.tmp" <<SHIM
#!/bin/sh
# nhs-auth fast path, written by scripts/install.sh from $repo
case "\$1" in
  generate-keys|demo|mock-server) jit="" ;;
  *) jit="-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -Xmn4m" ;;
esac
exec "$java_cmd" -XX:SharedArchiveFile="$lib/nhs-auth.jsa" -Xshare:auto -Xlog:disable -Xlog:all=off \
  -XX:+UseSerialGC -Djdk.http.auth.tunneling.disabledSchemes= \
  -Dpicocli.disable.closures=true \$jit -jar "$lib/nhs-auth.jar" "\$@"
SHIM
chmod 755 "$bin/nhs-auth.tmp"
mv -f "$bin/nhs-auth.tmp" "$bin/nhs-auth"

printf 'installed %s (one JVM, class-data sharing); try: nhs-auth get-token --help\n' "$bin/nhs-auth" >&2
# shellcheck disable=SC2016 # the note's $PATH is for the user to type
case ":$PATH:" in
  *":$bin:"*) ;;
  *) printf 'note: %s is not on PATH; add it, e.g. export PATH="%s:$PATH"\n' "$bin" "$bin" >&2 ;;
esac

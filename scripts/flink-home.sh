#!/usr/bin/env bash
# Print the path of a Flink home (FLINK_HOME) for VERSION, downloading it once.
#
#   scripts/flink-home.sh 1.20.1   ->   ~/.cache/flinkscan/flink-1.20.1
#
# PyPI's apache-flink-libraries sdist carries a full Flink distribution under
# deps/ (lib/flink-dist-V.jar holds the JobManager, BLOB server and web UI).
# The sdist is fetched with pip, checked against a pinned sha256 where one is known, and only
# */deps/* is extracted into ${FLINKSCAN_CACHE:-~/.cache/flinkscan}/flink-V.
#
# Idempotent and safe under concurrent invocation: callers serialise on a
# per-version flock, the download lands under a temporary name, and the
# extraction happens in a temporary directory that is renamed into place, so
# a half-written Flink home is never visible. Progress goes to stderr; stdout
# carries only the path.
set -euo pipefail

version="${1:?usage: flink-home.sh VERSION}"
case "$version" in
  *[!0-9.]* | "" ) echo "flink-home.sh: bad version '$version'" >&2; exit 2 ;;
esac
cache="${FLINKSCAN_CACHE:-$HOME/.cache/flinkscan}"
home="$cache/flink-$version"

# The dist jar marks a complete home: flink-dist-V.jar, or
# flink-dist_2.11-V.jar / _2.12 before Flink 1.15 dropped the Scala suffix.
has_dist() { # LIBDIR
  compgen -G "$1/flink-dist-$version.jar" >/dev/null ||
    compgen -G "$1/flink-dist_2.1[12]-$version.jar" >/dev/null
}

# Fast path: a complete home exists (it only ever appears by rename).
if has_dist "$home/lib"; then
  echo "$home"
  exit 0
fi

# sha256 of the PyPI sdists (what pip verified against PyPI's index).
expected_sha256() {
  case "$1" in
    1.14.6) echo 0b3afc482440c831c40f796db4cd71f177d9e7c2b67e6c932b8a33f01cc51ae9 ;;
    1.16.3) echo d15df4185e9c507836b031879b64e18f68955dd7e90cd7d39b450513ed64ebbe ;;
    1.20.1) echo be28293619b1d7b04c970b947133ae8d0ca86681f23694be063b3659ea69bb79 ;;
    2.1.1) echo 0a8e42be82a4c601d9eccbb8b10d6253fefbb07fb22cd89af36f00512c685b01 ;;
    2.3.0) echo 570bf8831d3c1336311e924e97119e52d8842e5485a4a7709ff9a92db709b006 ;;
    *) echo "" ;;
  esac
}

mkdir -p "$cache/dl"
exec 9>"$cache/.lock-$version"
flock 9

tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT

if ! has_dist "$home/lib"; then
  sdist="$cache/dl/apache-flink-libraries-$version.tar.gz"
  want="$(expected_sha256 "$version")"
  if [ -f "$sdist" ] && [ -n "$want" ] &&
     [ "$(sha256sum "$sdist" | cut -d' ' -f1)" != "$want" ]; then
    echo "flink-home.sh: cached $sdist has a wrong sha256, fetching again" >&2
    rm -f "$sdist"
  fi
  if [ ! -f "$sdist" ]; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
      echo "flink-home.sh: downloading Flink $version needs python3 with pip" \
        "(Debian packages python3, python3-pip)" >&2
      exit 1
    fi
    tmp="$(mktemp -d "$cache/dl/.download-$version.XXXXXX")"
    echo "flink-home.sh: downloading apache-flink-libraries==$version from PyPI" >&2
    python3 -m pip download --quiet --disable-pip-version-check \
      --no-deps --no-binary :all: "apache-flink-libraries==$version" -d "$tmp" >&2
    got=("$tmp"/*.tar.gz)
    if [ ! -f "${got[0]}" ]; then
      echo "flink-home.sh: no sdist downloaded for $version" >&2
      exit 1
    fi
    mv "${got[0]}" "$sdist"
    rm -rf "$tmp"; tmp=""
  fi
  if [ -n "$want" ]; then
    have="$(sha256sum "$sdist" | cut -d' ' -f1)"
    if [ "$have" != "$want" ]; then
      echo "flink-home.sh: sha256 mismatch for $sdist: $have, want $want" >&2
      rm -f "$sdist"
      exit 1
    fi
  fi

  echo "flink-home.sh: extracting Flink $version into $home" >&2
  tmp="$(mktemp -d "$cache/.extract-$version.XXXXXX")"
  tar -xzf "$sdist" -C "$tmp" --wildcards '*/deps/*'
  deps=("$tmp"/*/deps)
  if ! has_dist "${deps[0]}/lib"; then
    echo "flink-home.sh: $sdist has no deps/lib/flink-dist*-$version.jar" >&2
    exit 1
  fi
  # A stale, incomplete home (no dist jar) from an older layout is replaced.
  rm -rf "$home"
  mv "${deps[0]}" "$home"
  rm -rf "$tmp"; tmp=""
fi
echo "$home"

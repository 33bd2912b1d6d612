#!/usr/bin/env bash
# Print the path of a Flink home for VERSION, downloading it once.
#
# PyPI's apache-flink-libraries sdist carries a full Flink distribution under
# deps/ (lib/flink-dist-V.jar holds the JobManager, BLOB server and web UI).
# It is fetched with pip and extracted into ${FLINKSCAN_CACHE:-~/.cache/flinkscan}/flink-V;
# concurrent callers wait on a lock, and a half-done extraction is never used.
set -euo pipefail
version="${1:?usage: flink-home.sh VERSION}"
cache="${FLINKSCAN_CACHE:-$HOME/.cache/flinkscan}"
home="$cache/flink-$version"
mkdir -p "$cache/dl"
if [ -f "$home/lib/flink-dist-$version.jar" ]; then
  echo "$home"
  exit 0
fi
exec 9>"$cache/.lock-$version"
flock 9
if [ ! -f "$home/lib/flink-dist-$version.jar" ]; then
  sdist="$cache/dl/apache-flink-libraries-$version.tar.gz"
  if [ ! -f "$sdist" ]; then
    python3 -m pip download --quiet --no-deps --no-binary :all: \
      "apache-flink-libraries==$version" -d "$cache/dl" >&2
  fi
  tmp="$(mktemp -d "$cache/.extract-$version.XXXXXX")"
  tar -xzf "$sdist" -C "$tmp" --wildcards '*/deps/*'
  rm -rf "$home"
  mv "$tmp"/apache-flink-libraries-"$version"/deps "$home"
  rm -rf "$tmp"
fi
echo "$home"

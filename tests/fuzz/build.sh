#!/bin/sh
# tests/fuzz/build.sh - build the libFuzzer harnesses of tests/fuzz/ with
# clang, ASan and UBSan: the library's sources are compiled again with
# coverage instrumentation (-fsanitize=fuzzer-no-link) into
# $AF_BUILDDIR/tests/fuzz-out/, and each fuzz_*.c is linked against them.
# Called by `make fuzz` (AF_SRCDIR and AF_BUILDDIR set); needs a configured
# build folder (its config.h). CC defaults to clang. Exit 77 when clang or
# its libFuzzer is missing, 1 when a build fails.
set -eu

srcdir=${AF_SRCDIR:?AF_SRCDIR is not set}
builddir=${AF_BUILDDIR:?AF_BUILDDIR is not set}
cc=${FUZZ_CC:-clang}
out=$builddir/tests/fuzz-out
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

command -v "$cc" >/dev/null 2>&1 || { echo "SKIP: $cc is missing"; exit 77; }
mkdir -p "$out/obj"
# libFuzzer itself: clang on Debian has it in libclang-rt-NN-dev.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' \
    >"$out/probe.c"
"$cc" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>/dev/null || {
    echo "SKIP: $cc cannot link -fsanitize=fuzzer (install clang's runtime, libclang-rt-dev)"
    exit 77
}
rm -f "$out/probe" "$out/probe.c"

pkgs="openssl libmicrohttpd libcurl jansson"
# The Redis store (src/server/store_redis.c) is compiled in when configure
# found hiredis; its objects then need hiredis at link time too.
grep -q '^#define HAVE_HIREDIS 1' "$builddir/config.h" && pkgs="$pkgs hiredis"
# shellcheck disable=SC2086 # word lists
cflags="-g -O1 $san -I$builddir -I$srcdir/include -I$srcdir/src -D_GNU_SOURCE \
-DAF_SYSCONFDIR=\"/etc\" $(pkg-config --cflags $pkgs)"
# shellcheck disable=SC2086
libs="$(pkg-config --libs $pkgs)"

# The library's sources: those of libauthflow.a (cmd_mint.c is authprobe's
# alone). Compiled two at a time, each only when its source is newer.
for f in "$srcdir"/src/common/*.c "$srcdir"/src/proto/*.c "$srcdir"/src/jose/*.c \
    "$srcdir"/src/cfg/*.c "$srcdir"/src/server/*.c "$srcdir"/src/probe/*.c; do
    case $f in */cmd_mint.c) continue ;; esac
    echo "$f"
done >"$out/sources"
export cc cflags out
xargs -P 2 -n 1 sh -c '
    o=$out/obj/$(echo "$1" | sed "s|.*/src/||; s|/|_|g; s|\.c$|.o|")
    [ "$o" -nt "$1" ] && exit 0
    # shellcheck disable=SC2086
    $cc $cflags -fsanitize=fuzzer-no-link -c "$1" -o "$o"' sh <"$out/sources"
rm -f "$out/libauthflow-fuzz.a"
ar rcs "$out/libauthflow-fuzz.a" "$out"/obj/*.o

for h in "$srcdir"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$h" .c)
    # shellcheck disable=SC2086
    $cc $cflags -I"$srcdir/tests/fuzz" -fsanitize=fuzzer "$h" "$out/libauthflow-fuzz.a" \
        $libs -lpthread -o "$out/$name"
    echo "built $out/$name"
done

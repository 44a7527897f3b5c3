#!/bin/sh
# test_container.sh - the container image (Dockerfile, .dockerignore) and
# the compose example (contrib/compose/), without a Docker engine: both
# stages are built from what the Dockerfile says (tests/fixtures/
# dockerfile_plan.py reads it), and the image is run with chroot in a
# network namespace of its own, as a container would be.
#
# - static: the Dockerfile's lint checks (FROM pinned, no ADD, a numeric
#   non-root USER, HEALTHCHECK, exec forms, apt-get hygiene) and shellcheck
#   of every RUN, when shellcheck is there;
# - build stage: the build context (the source tree filtered by
#   .dockerignore) copied, and the stage's RUN run in it, on this machine
#   (Debian 12 with the stage's packages), into a staging folder;
# - runtime stage: a Debian 12 minbase root file system by mmdebstrap with
#   the stage's packages, the staging folder copied in, the stage's other
#   RUN lines run in it with chroot; ldd finds every library of the
#   installed programs and of the HEALTHCHECK's;
# - run, in a new network namespace (only its own loopback, port 9000 as in
#   a container): ENTRYPOINT + CMD as the USER, each time in a new copy of
#   the image with the VOLUME mounted: the HEALTHCHECK passes (and fails once
#   stopped), discovery names the CMD's issuer, an issuer given as `docker
#   run IMAGE --issuer ...` would give it replaces it, the signing keys
#   (/jwks kids) survive a new container through the volume and only
#   through it;
# - compose: authflowd with compose.yaml's volumes (its authflowd.json) and
#   the app with its environment in the same network (network_mode:
#   service:authflowd): a headless login through the app ends in its
#   "Hello Alice Example", the admin API answers with the secret only.
#
# The rootfs tarball and the build stage are cached in the build tree
# (tests/container-cache/; make clean removes it); a change of the package
# list or of the build context makes them again.
#
# Exit: 0 pass, 1 fail, 77 skip (not root, or mmdebstrap, unshare, chroot,
# python3 with PyYAML or a Debian mirror missing), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

# shellcheck disable=SC2154,SC2015 # the plan's variables come from an eval; A && ok || fail
srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
plan_py=$srcdir/tests/fixtures/dockerfile_plan.py
compose_dir=$srcdir/contrib/compose

# shq WORD: WORD quoted for the shell.
shq() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# json_get FILE EXPR: a Python expression of the JSON document d in FILE.
json_get() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# ---------------------------------------------------------------- phase 2
# In the network and mount namespace of its own (unshare, below): the
# bind mounts vanish with it, and the servers listen on its loopback only.
if [ "${1:-}" = --in-netns ]; then
    tmp=$AF_CTR_TMP conf=
    eval "$(cat "$tmp/plan.sh")" || exit 99
    trap 'af_stop $af_procs' EXIT
    trap 'exit 1' INT TERM HUP
    af_procs="afd app"
    ip link set lo up || { echo "ERROR: ip link set lo up"; exit 99; }
    uid=${user%%:*}
    gid=${user#*:}
    home=$(awk -F: -v u="$uid" '$3 == u { print $6 }' "$tmp/image/etc/passwd")

    # ctr_new NAME: a new container $ctr from the image, with /etc/hosts as
    # Docker writes it; ctr_prefix runs a command in it as the USER with
    # the image's environment only.
    ctr_new() {
        ctr=$tmp/$1
        cp -a "$tmp/image" "$ctr" || exit 99
        printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ctr/etc/hosts"
        ctr_prefix="chroot --userspec=$uid:$gid --groups=$gid $(shq "$ctr") env -i"
        ctr_prefix="$ctr_prefix PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ctr_prefix="$ctr_prefix HOME=$(shq "${home:-/}") $env"
    }
    # volume NAME: a named volume's folder, first made as Docker does, a
    # copy of what the image has at the VOLUME (owner and mode included).
    volume_dir() {
        [ -d "$tmp/vol-$1" ] || cp -a "$tmp/image$volume" "$tmp/vol-$1" || exit 99
        echo "$tmp/vol-$1"
    }
    # mount_vol SRC DST [ro]: a volume or a bind mount (-v SRC:DST[:ro]).
    mount_vol() {
        mount --bind "$1" "$ctr$2" || exit 99
        [ "${3:-}" = ro ] && { mount -o remount,bind,ro "$ctr$2" || exit 99; }
        return 0
    }
    # healthcheck: the HEALTHCHECK's command in the container, as Docker
    # runs it (the USER, the image's environment, --timeout=3s).
    healthcheck() {
        eval "timeout 3 $ctr_prefix $healthcheck" >"$tmp/hc.out" 2>&1
    }
    # start NAME ARGS...: ENTRYPOINT with ARGS (CMD's part), in the
    # background ($afd); its first stdout line is the issuer ($url).
    start() {
        _n=$1
        shift
        _args=
        for _a in "$@"; do _args="$_args $(shq "$_a")"; done
        eval "af_start afd $_n $ctr_prefix $entrypoint $_args"
    }
    # stop: SIGTERM, as `docker stop`; authflowd must exit 0.
    stop() {
        kill "$afd" 2>/dev/null
        wait "$afd"
        _st=$?
        afd=
        [ "$_st" -eq 0 ] || fail "authflowd exited $_st on SIGTERM (docker stop)"
    }
    kids() {
        curl -fsS "http://127.0.0.1:9000/jwks" >"$tmp/jwks.json" &&
            json_get "$tmp/jwks.json" '" ".join(sorted(k["kid"] for k in d["keys"]))'
    }
    discovery_issuer() {
        curl -fsS "http://127.0.0.1:9000/.well-known/openid-configuration" >"$tmp/disc.json" &&
            json_get "$tmp/disc.json" 'd["issuer"]'
    }

    # The image's defaults: ENTRYPOINT + CMD.
    cmd_issuer=$(echo "$cmd" | sed -n "s/.*--issuer '*\([^' ]*\).*/\1/p")
    ctr_new c1
    mount_vol "$(volume_dir state)" "$volume"
    eval "set -- $cmd"
    if start afd-1 "$@"; then
        if healthcheck; then
            echo "ok: HEALTHCHECK passes: $healthcheck"
        else
            fail "HEALTHCHECK failed: $healthcheck: $(cat "$tmp/hc.out")"
        fi
        got=$(discovery_issuer)
        [ -n "$cmd_issuer" ] && [ "$got" = "$cmd_issuer" ] && [ "$url" = "$cmd_issuer" ] &&
            echo "ok: ENTRYPOINT + CMD: issuer $got (listening on port 9000 of every address)" ||
            fail "issuer: discovery says $got, the banner $url; CMD says ${cmd_issuer:-none}"
        kids1=$(kids)
        n=0
        for f in "$(volume_dir state)"/*.pem; do
            [ -f "$f" ] && [ "$(stat -c %u:%a "$f")" = "$uid:600" ] && n=$((n + 1))
        done
        [ "$n" -ge 1 ] && echo "ok: $n generated key(s) in the volume, the USER's, mode 0600" ||
            fail "no key file of uid $uid, mode 0600, in the volume $volume: $(ls -ln "$(volume_dir state)")"
        stop
        healthcheck && fail "HEALTHCHECK still passes with authflowd stopped"
    else
        fail "authflowd did not start from ENTRYPOINT + CMD: $entrypoint $cmd"
    fi

    # A new container, the same volume, `docker run IMAGE --issuer URL`.
    ctr_new c2
    mount_vol "$(volume_dir state)" "$volume"
    if start afd-2 --issuer http://authflowd:9000; then
        got=$(discovery_issuer)
        [ "$got" = http://authflowd:9000 ] && echo "ok: docker run IMAGE --issuer URL: issuer $got" ||
            fail "arguments after the image: issuer $got, expected http://authflowd:9000"
        kids2=$(kids)
        [ -n "$kids1" ] && [ "$kids2" = "$kids1" ] &&
            echo "ok: a new container with the volume signs with the same keys: $kids2" ||
            fail "the keys changed across containers with one volume: '$kids1', then '$kids2'"
        stop
    fi

    # A new container with a new volume: new keys (the image holds none).
    ctr_new c3
    mount_vol "$(volume_dir other)" "$volume"
    eval "set -- $cmd"
    if start afd-3 "$@"; then
        kids3=$(kids)
        [ -n "$kids3" ] && [ "$kids3" != "$kids1" ] &&
            echo "ok: a new volume gets keys of its own: the image ships no key" ||
            fail "a new volume served the keys '$kids3' (first volume: '$kids1')"
        stop
    fi

    # compose.yaml: authflowd's volumes and command, the app's environment.
    eval "$(python3 "$plan_py" compose "$compose_dir/compose.yaml" authflowd)" || exit 99
    afd_command=$c_command afd_volumes=$c_volumes afd_ports=$c_ports
    eval "$(python3 "$plan_py" compose "$compose_dir/compose.yaml" app)" || exit 99
    [ "$c_network_mode" = service:authflowd ] ||
        fail "the app is not in authflowd's network (network_mode: $c_network_mode), as this test runs it"
    for p in 9000 9001 8080; do
        case " $afd_ports " in
        *" 127.0.0.1:$p:$p "*) ;;
        *) fail "compose.yaml: the authflowd service does not publish 127.0.0.1:$p:$p" ;;
        esac
    done
    ctr_new c4
    eval "set -- $afd_volumes"
    for v in "$@"; do
        src=${v%%:*} rest=${v#*:}
        dst=${rest%%:*} opt=
        [ "$dst" = "$rest" ] || opt=${rest#*:}
        case $src in
        ./*) src=$compose_dir/${src#./} ;;
        *) src=$(volume_dir "compose-$src") ;;
        esac
        [ "$dst" = /etc/authflow/authflowd.json ] && conf=$src
        mount_vol "$src" "$dst" "$opt"
    done
    eval "set -- ${afd_command:-$cmd}"
    if start afd-4 "$@"; then
        healthcheck || fail "compose: HEALTHCHECK failed: $(cat "$tmp/hc.out")"
        # the app: its command, with its bind mounts' folders on this side
        eval "set -- $c_command"
        app_cmd=
        for w in "$@"; do
            eval "set -- $c_volumes"
            for v in "$@"; do
                d=${v#*:}
                d=${d%%:*}
                case $w in "$d"/*) w=$compose_dir/${v%%:*}${w#"$d"} ;; esac
            done
            app_cmd="$app_cmd $(shq "$w")"
        done
        eval "af_start app app env -i PATH=\"\$PATH\" HOME=\"\$HOME\" $c_env $app_cmd"
        ok=$?
        app_url=$(echo "$c_env" | sed -n 's/.*REDIRECT_URI=\([^ ]*\)\/callback.*/\1/p')
        if [ "$ok" -eq 0 ] && [ -n "$app_url" ]; then
            body=$(curl -sS -L --max-redirs 5 -c "$tmp/jar" -b "$tmp/jar" "$app_url/login" 2>&1)
            case $body in
            *"Hello Alice Example (u-alice)"*)
                echo "ok: compose: a login through the app at $app_url/login greets Alice" ;;
            *) fail "compose: the login through $app_url/login ended in: $body"; cat "$tmp/app.err" ;;
            esac
        else
            fail "compose: the app did not start: $app_cmd"
        fi
        secret=$(json_get "$conf" 'd["admin"]["secret"]')
        a1=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $secret" \
            http://localhost:9001/admin/healthz)
        a2=$(curl -s -o /dev/null -w '%{http_code}' http://localhost:9001/admin/healthz)
        [ "$a1" = 200 ] && [ "$a2" = 401 ] &&
            echo "ok: compose: the admin API on port 9001 answers with its secret (200), not without (401)" ||
            fail "compose: admin API: $a1 with the secret, $a2 without (expected 200, 401)"
        af_stop app
        stop
    else
        fail "compose: authflowd did not start with compose.yaml's volumes"
    fi
    af_exit
fi

# ---------------------------------------------------------------- phase 1
af_need python3
cache=$builddir/tests/container-cache
mkdir -p "$cache" || exit 99
TMPDIR=$cache
af_tmpdir authflow-container 99

# Static checks: no engine, no root needed.
python3 "$plan_py" lint "$srcdir/Dockerfile" "$tmp/runs" || failures=$((failures + 1))
if command -v shellcheck >/dev/null 2>&1; then
    for f in "$tmp"/runs/*.sh; do
        at=${f##*line}
        at=${at%.sh}
        shellcheck -s sh "$f" >"$tmp/sc.out" 2>&1 &&
            echo "ok: Dockerfile: RUN at line $at: shellcheck has nothing to say" ||
            { fail "Dockerfile: RUN at line $at: shellcheck:"; cat "$tmp/sc.out"; }
    done
else
    echo "note: no shellcheck, the RUN lines were not checked"
fi
python3 "$plan_py" plan "$srcdir/Dockerfile" >"$tmp/plan.sh" || exit 99
eval "$(cat "$tmp/plan.sh")"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: building and running the image needs root (mmdebstrap, chroot, mounts)"
    [ "$failures" -eq 0 ] && exit 77
    af_exit
fi
af_need mmdebstrap unshare chroot ip curl timeout
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: no python3 with PyYAML (Debian: python3-yaml)"; exit 77; }
missing=$(for p in $build_pkgs; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || printf ' %s' "$p"
done)
[ -z "$missing" ] || { echo "SKIP: the build stage's packages are missing here:$missing"; exit 77; }

# The build stage: its RUN in a copy of the build context, into $stage.
key=$({ python3 "$plan_py" hash "$srcdir" "$srcdir/.dockerignore" && echo "$build_run"; } | sha256sum | cut -c1-16)
stage=$cache/stage
if [ "$(cat "$stage.key" 2>/dev/null)" != "$key" ]; then
    rm -rf "$stage" "$stage.key" "$cache/context"
    python3 "$plan_py" context "$srcdir" "$srcdir/.dockerignore" "$cache/context" || exit 99
    echo "building the image's build stage (its RUN, in the build context)"
    if ! (cd "$cache/context" && AF_STAGE=$stage sh -c "$build_run") >"$cache/build.log" 2>&1; then
        tail -n 40 "$cache/build.log"
        echo "FAIL: the build stage's RUN failed in the build context"
        exit 1
    fi
    echo "$key" >"$stage.key"
fi
echo "ok: the build stage builds from the context .dockerignore leaves"

# The runtime stage's root file system: Debian 12 minbase with its packages.
rootfs=$cache/rootfs-$(echo "$runtime_pkgs" | sha256sum | cut -c1-16).tar
if [ ! -f "$rootfs" ]; then
    rm -rf "$cache"/rootfs-*.tar
    echo "mmdebstrap: bookworm minbase with $runtime_pkgs"
    if ! mmdebstrap --variant=minbase --format=tar --include="$(echo "$runtime_pkgs" | tr ' ' ,)" \
        bookworm "$rootfs.part" </dev/null >"$cache/mmdebstrap.log" 2>&1; then
        rm -f "$rootfs.part"
        tail -n 20 "$cache/mmdebstrap.log"
        if grep -q 'Temporary failure resolving\|Could not resolve\|Failed to fetch\|Could not connect' \
            "$cache/mmdebstrap.log"; then
            echo "SKIP: no Debian mirror reachable for mmdebstrap"
            exit 77
        fi
        echo "FAIL: mmdebstrap failed"
        exit 1
    fi
    mv "$rootfs.part" "$rootfs"
fi
image=$tmp/image
mkdir "$image" && tar -C "$image" -xf "$rootfs" || exit 99
cp -a "$stage/." "$image$copy_dst" || exit 99
i=1
while [ "$i" -le "$nruns" ]; do
    eval "r=\$run_$i"
    # shellcheck disable=SC2086 # the ENV words
    if ! eval "chroot $(shq "$image") env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $env sh -c $(shq "$r")" \
        >"$tmp/run.out" 2>&1; then
        cat "$tmp/run.out"
        echo "FAIL: the runtime stage's RUN failed in the root file system: $r"
        exit 1
    fi
    i=$((i + 1))
done
echo "ok: the runtime stage: $runtime_pkgs, the build stage's install, $nruns RUN line(s)"

# Every library of the installed programs and of the HEALTHCHECK's.
eval "set -- $healthcheck"
# shellcheck disable=SC2016 # $1 of the inner shell
hc_bin=$(chroot "$image" sh -c 'command -v "$1"' sh "$1")
for b in "$image"/usr/local/bin/* "$image$hc_bin"; do
    b=/${b#"$image"/}
    if chroot "$image" ldd "$b" >"$tmp/ldd.out" 2>&1 && ! grep -q 'not found' "$tmp/ldd.out"; then
        echo "ok: ldd $b: every library is in the image"
    else
        fail "ldd $b in the image: $(grep 'not found' "$tmp/ldd.out" || cat "$tmp/ldd.out")"
    fi
done

# The USER and the VOLUME as the RUN lines left them.
uid=${user%%:*}
[ "$(stat -c %u:%a "$image$volume")" = "$uid:700" ] &&
    grep -q "^[^:]*:[^:]*:$uid:" "$image/etc/passwd" &&
    echo "ok: USER $user is in the image's /etc/passwd and owns the VOLUME $volume (0700)" ||
    fail "USER $user / VOLUME $volume: $(stat -c '%u:%a' "$image$volume"), passwd: $(grep ":$uid:" "$image/etc/passwd")"

# Two examples of docs/container.md that need no network: a config check
# (`docker run IMAGE --check-config`) and the installed authprobe's suites.
as_user="chroot --userspec=$user --groups=${user#*:} $(shq "$image") env -i PATH=/usr/local/bin:/usr/bin:/bin $env"
if eval "$as_user $entrypoint --check-config" >"$tmp/cc.out" 2>&1; then
    echo "ok: docker run IMAGE --check-config: $(cat "$tmp/cc.out")"
else
    fail "ENTRYPOINT --check-config: $(cat "$tmp/cc.out")"
fi
if eval "$as_user authprobe list as" >"$tmp/list.out" 2>&1 && grep -q 'AS-01' "$tmp/list.out"; then
    echo "ok: --entrypoint authprobe IMAGE list as: the installed suites are found"
else
    fail "authprobe list as in the image: $(cat "$tmp/list.out")"
fi

AF_CTR_TMP=$tmp AF_SRCDIR=$srcdir AF_BUILDDIR=$builddir
export AF_CTR_TMP AF_SRCDIR AF_BUILDDIR
unshare --net --mount --propagation private -- sh "$srcdir/tests/test_container.sh" --in-netns ||
    failures=$((failures + 1))
af_exit

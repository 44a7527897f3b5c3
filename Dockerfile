# authflow's container image: authflowd (and authprobe) on Debian 12 slim.
# docs/container.md says how to build, run and configure it.
#
#   docker build -t authflow .
#   docker run --rm -p 127.0.0.1:9000:9000 authflow
#
# tests/test_container.sh builds both stages without a Docker engine from
# this very file: the build stage's packages and RUN line, the runtime
# stage's package list, its RUN, ENV, VOLUME, USER, HEALTHCHECK, ENTRYPOINT
# and CMD. It understands the forms used here (one `apt-get update && apt-get
# install -y --no-install-recommends PKGS && rm -rf /var/lib/apt/lists/*`
# per stage, exec-form ENTRYPOINT, CMD and HEALTHCHECK); keep to them.

# --- build: the -dev packages, autotools, `make install` into /stage
FROM debian:bookworm-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        gcc libc6-dev make autoconf automake pkg-config \
        libssl-dev libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libhiredis-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .dockerignore leaves the generated autotools files out: configure is
# always made here from the sources, as from a git checkout.
RUN autoreconf -fi \
    && mkdir _image && cd _image \
    && ../configure --quiet --prefix=/usr/local --sysconfdir=/etc \
    && make -j"$(nproc)" \
    && make install-strip DESTDIR=/stage

# --- runtime: the shared libraries only, and curl for the HEALTHCHECK
# (libcurl4 is there for authprobe anyway: curl adds one small binary).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libssl3 libmicrohttpd12 libjansson4 libhiredis0.14 libcurl4 curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /stage/ /
# The user authflowd runs as, and its state folder: the keys that
# keys[].generate makes once (RS256, ES256 in the shipped config) go there.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/authflow \
        --no-create-home --shell /usr/sbin/nologin authflow \
    && install -d -o authflow -g authflow -m 0700 /var/lib/authflow
ENV AUTHFLOW_STATE_DIR=/var/lib/authflow
# A volume, so that the generated keys (and so the kids in /jwks) survive a
# new container: a named volume starts as a copy of this folder, owner
# included.
VOLUME ["/var/lib/authflow"]
# Numeric, so that a runtime (Kubernetes' runAsNonRoot) can tell it is not 0.
USER 10001:10001
EXPOSE 9000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9000/healthz"]
# The shipped config (make install put it in /etc/authflow); mount your own
# over it. Every address of the container, port 9000; the issuer is what the
# browser on the host reaches through -p 9000:9000. Arguments given to
# `docker run IMAGE ...` replace CMD: `--issuer http://authflowd:9000`.
ENTRYPOINT ["/usr/local/bin/authflowd", "--config", "/etc/authflow/authflowd.json", "--listen", "0.0.0.0:9000"]
CMD ["--issuer", "http://localhost:9000"]

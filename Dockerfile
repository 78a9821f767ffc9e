# syntax=docker/dockerfile:1
#
# UltraGate container image: a static-stdlib release build on the official Swift image, copied
# into debian:bookworm-slim with only the C libraries the binary still links dynamically.
#
# Assumption: the official `swift` image publishes `<major>.<minor>-bookworm` tags for Swift 6.1
# and later (e.g. swift:6.1-bookworm, swift:6.3-bookworm). 6.3 matches the toolchain the project
# is developed and tested with (6.3.1); override with --build-arg SWIFT_IMAGE=swift:6.2-bookworm.
# The builder and the runtime are both Debian 12 (bookworm), so the libcurl/LMDB sonames match.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends libcurl4-openssl-dev liblmdb-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.swift names every target's folder (tests and benchmarks included); SwiftPM refuses a
# manifest whose target folders are missing, so they are copied too (.dockerignore trims them).
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY Benchmarks ./Benchmarks
# Foundation links statically on Linux with --static-swift-stdlib; libcurl, LMDB and glibc stay
# dynamic (see the runtime stage).
RUN swift build -c release --product ultragate --static-swift-stdlib \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/ultragate" /out/usr/local/bin/ultragate \
    && strip /out/usr/local/bin/ultragate

FROM ${RUNTIME_IMAGE} AS runtime
# Runtime libraries of the static-stdlib binary (from `ldd`): libcurl4 (libcurl.so.4), liblmdb0
# (liblmdb.so.0), libstdc++6 and libgcc-s1 (already in the base image; named so a slimmer base
# would not silently lose them), ca-certificates for TLS to the providers, and the small `curl`
# tool (libcurl4 is there anyway) so HEALTHCHECK can ask GET /health for a real 200 rather than
# only probing that the port accepts connections.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends libcurl4 liblmdb0 libstdc++6 libgcc-s1 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ultragate \
    && useradd --system --uid 10001 --gid ultragate --home-dir /var/lib/ultragate --no-create-home --shell /usr/sbin/nologin ultragate \
    && install -d -o ultragate -g ultragate -m 0750 /var/lib/ultragate \
    && install -d -m 0755 /etc/ultragate
COPY --from=build /out/usr/local/bin/ultragate /usr/local/bin/ultragate

# The LMDB response cache lives here; a named volume keeps it across container restarts. The
# directory is created owned by the ultragate user, which a fresh named volume inherits.
VOLUME ["/var/lib/ultragate"]
USER ultragate:ultragate
WORKDIR /var/lib/ultragate
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health"]
# Provider keys come from OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY; extra arguments
# (e.g. `--config /etc/ultragate/ultragate.json`) are appended by `docker run … IMAGE ARGS` or
# compose's `command:`. SIGTERM drains requests in flight before exiting.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ultragate", "serve", "--host", "0.0.0.0", "--port", "8080", "--cache-dir", "/var/lib/ultragate"]

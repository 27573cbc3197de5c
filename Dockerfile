# The ci-preview-server image: one statically linked binary, nothing else.
#
# Built by `cargo xtask image`, which compiles the binary with
# `RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu`
# and uses a build context holding only that binary and this file. No shell, no package manager,
# no CA store: the binary embeds its TLS roots (webpki-root-certs) for fetching GitHub's JWKS.
FROM scratch
COPY ci-preview-server /ci-preview-server
# Platforms that assign a port set PORT; the server then listens on 0.0.0.0:$PORT.
ENV PORT=3000
EXPOSE 3000
# Not root. The numeric id needs no /etc/passwd in a scratch image.
USER 65532:65532
# PID 1: the server handles SIGTERM itself (graceful shutdown), so `docker stop` is prompt.
ENTRYPOINT ["/ci-preview-server"]

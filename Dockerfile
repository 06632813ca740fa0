# helm-ccr serve in a container: a static musl binary on a distroless base, non-root, happy
# with a read-only root filesystem (the package cache goes to /var/cache/helm-ccr: mount an
# emptyDir there). `docker run IMAGE ccr://INSTANCE/NAMESPACE` serves that namespace on :8080.
FROM rust:1.88-alpine3.22 AS build
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin helm-ccr \
    && install -D -m 0755 target/release/helm-ccr /out/helm-ccr

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/helm-ccr /usr/local/bin/helm-ccr
USER 65532:65532
ENV HELM_CACHE_HOME=/var/cache/helm-ccr
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/helm-ccr", "serve", "--listen", "0.0.0.0:8080", "--cache-dir", "/var/cache/helm-ccr/packages"]

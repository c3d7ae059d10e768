# Multi-stage build: a static lux binary (CGO_ENABLED=0, Pebble's pure-Go zstd)
# on a minimal base, run as a non-root user.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w" -o /out/lux ./cmd/lux

FROM debian:bookworm-slim
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/luxdb/lux-go
LABEL org.opencontainers.image.title="lux" \
      org.opencontainers.image.description="A Redis-protocol database with relational tables, durable in Pebble, with a bundled chat demo" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION"
RUN groupadd --system --gid 10001 lux \
 && useradd --system --uid 10001 --gid lux --home-dir /data --shell /usr/sbin/nologin lux \
 && mkdir -p /data && chown lux:lux /data
COPY --from=build /out/lux /usr/local/bin/lux
COPY docker/entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER lux
WORKDIR /data
VOLUME ["/data"]
# 6379: the database (RESP); 8080: the chat demo (HTTP + WebSocket)
EXPOSE 6379 8080
# docker/entrypoint.sh sets the container defaults: listen on all
# interfaces, data in /data, the demo on :8080, and — when LUX_PASSWORD is
# not set — protected mode off with a loud warning, as the official Redis
# image does. Set LUX_PASSWORD for anything reachable beyond the host.
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]

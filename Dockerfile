# Multi-stage build: a static lux binary (CGO_ENABLED=0, Pebble's pure-Go zstd)
# on a minimal base, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/lux ./cmd/lux

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 lux \
 && useradd --system --uid 10001 --gid lux --home-dir /data --shell /usr/sbin/nologin lux \
 && mkdir -p /data && chown lux:lux /data
COPY --from=build /out/lux /usr/local/bin/lux
USER lux
WORKDIR /data
VOLUME ["/data"]
EXPOSE 6379
# Inside a container the server must listen on all interfaces. Protected mode
# refuses a public bind without a password: set LUX_PASSWORD (recommended), or
# LUX_PROTECTED_MODE=no when the network is private.
ENV LUX_BIND_HOST=0.0.0.0 \
    LUX_PORT=6379 \
    LUX_DATA_DIR=/data
ENTRYPOINT ["/usr/local/bin/lux"]

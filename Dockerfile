# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/digestbot ./cmd/digestbot

# Run: CA certificates and time zones, a non-root user, data on a volume.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data digestbot \
 && mkdir -p /data /etc/digestbot && chown digestbot /data
COPY --from=build /out/digestbot /usr/local/bin/digestbot
COPY config.example.toml /etc/digestbot/config.toml
USER digestbot
WORKDIR /data
VOLUME /data
EXPOSE 8080
# Liveness: the process and its database answer (digestbot healthcheck --ready asks /readyz).
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["digestbot", "healthcheck"]
# The config path comes from --config or DIGESTBOT_CONFIG; secrets from DIGESTBOT_* variables.
ENV DIGESTBOT_CONFIG=/etc/digestbot/config.toml
ENTRYPOINT ["digestbot"]
CMD ["serve"]

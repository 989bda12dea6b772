# syntax=docker/dockerfile:1
# certinit images.
#   docker build --target certinit -t certinit .            # scratch: only /certinit, for COPY --from=
#   docker build --target mosquitto -t mosquitto-certinit . # eclipse-mosquitto with certinit as entrypoint
# The build stage's command is the one `make build` and the packaging test use:
# a static binary (CGO_ENABLED=0), reproducible paths (-trimpath), stripped, and without
# urfave/cli's documentation generators (-tags urfave_cli_no_docs: 3 ms less per start).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -tags urfave_cli_no_docs -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/certinit ./cmd/certinit

# Only the binary: `COPY --from=ghcr.io/certinit/certinit /certinit /usr/local/bin/certinit`.
FROM scratch AS certinit
COPY --from=build /out/certinit /certinit
ENTRYPOINT ["/certinit"]

# Mosquitto supervised by certinit. Configure with CERTINIT_* variables, e.g.
#   -e CERTINIT_CERT=/etc/letsencrypt/live/mqtt.example.com/fullchain.pem
#   -e CERTINIT_KEY=/etc/letsencrypt/live/mqtt.example.com/privkey.pem
#   -e CERTINIT_COPY_TO=/mosquitto/certs -e CERTINIT_OWNER=mosquitto
FROM eclipse-mosquitto:2 AS mosquitto
COPY --from=build /out/certinit /usr/local/bin/certinit
COPY examples/docker-compose/mosquitto.conf /mosquitto/config/mosquitto.conf
ENV CERTINIT_WAIT=5m \
    CERTINIT_COPY_TO=/mosquitto/certs \
    CERTINIT_OWNER=mosquitto
ENTRYPOINT ["/usr/local/bin/certinit", "run", "--"]
CMD ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]

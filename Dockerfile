# One image for every role: the command picks it (api, worker, janitor).
#   docker build -t sumprimes .
#   docker run --rm -p 8080:8080 sumprimes api
# The base images are build arguments (make compose-test builds on local
# stand-ins); the defaults are the ones users build on.
ARG GO_IMAGE=golang:1.26
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/sumprimes .

# A static binary on a distroless base: no shell, no package manager, and a
# non-root user. The binary is its own health check (`sumprimes health`).
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/sumprimes /sumprimes
USER nonroot:nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/sumprimes"]
CMD ["api"]

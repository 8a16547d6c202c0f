# syntax=docker/dockerfile:1
# Tradewinds: a multi-stage build. The builder installs the locked runtime dependencies
# and the project into a virtual environment with uv (no dev extras); the runtime image
# holds Python and that environment only, and runs as an unprivileged user.
#   docker build -t tradewinds:0.1.0 .
# Both stages use the same Python image, so the venv's interpreter path is valid in both.
# For reproducible builds pin it by digest: --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# The uv the Makefile pins (UV_VERSION).
ARG UV_VERSION=0.13.9
RUN python -m pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
# Dependencies first, in their own layer: it changes only with uv.lock.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project
# Then the project itself, installed as a package (not editable): /src stays behind.
COPY README.md ./
COPY domain ./domain
COPY forecasts ./forecasts
COPY service ./service
RUN uv sync --locked --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 tradewinds \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin tradewinds \
    && mkdir -p /var/lib/tradewinds \
    && chown 10001:10001 /var/lib/tradewinds
COPY --from=builder /opt/venv /opt/venv
# The root filesystem may be read-only (k8s/): bytecode is compiled at build time,
# matplotlib's cache goes to /tmp, the SQLite store (if no TRADEWINDS_DATABASE_URL) to
# /var/lib/tradewinds. Listening beyond loopback needs API keys (README).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    TRADEWINDS_DATA_DIR=/var/lib/tradewinds \
    TRADEWINDS_HOST=0.0.0.0 \
    TRADEWINDS_PORT=8000
WORKDIR /var/lib/tradewinds
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["tradewinds", "serve"]

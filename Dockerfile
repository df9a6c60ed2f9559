# syntax=docker/dockerfile:1
# One image for every role of the service (web, worker, beat, migrate): the command
# picks. The sandbox image is the same build with LOCK=requirements-sandbox.lock, so
# the production image never carries the sandbox's web server and HTTP client.

# --- build: resolve and install the locked dependencies into a self-contained venv -----
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

ARG LOCK=requirements-prod.lock
RUN python -m venv /opt/venv
COPY ${LOCK} /tmp/requirements.lock
# --require-hashes: a package whose bytes differ from the lock fails the build.
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock

# --- runtime: the venv and the code, nothing else -------------------------------------
FROM python:3.11-slim AS runtime

# No DJANGO_SETTINGS_MODULE here: whoever runs the image names the settings
# (config.settings.production in a deployment, config.settings.dev in the compose file),
# and every entry point refuses to start without it (core/entrypoints.py).
# Two listeners (ADR 0005): 8000 is the public site, the only port the load balancer or
# the public Service may target; 8001 serves /metrics and the API docs to the cluster.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WEB_CONCURRENCY=2 \
    GUNICORN_BIND=0.0.0.0:8000 \
    INTERNAL_PORT=8001

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# The code stays root-owned and read-only to the service; only var/ (broker folders,
# file cache, dev keys in the dev compose) is writable. var/keys is the mount point of
# the compose file's shared dev-keys volume: a new volume takes this owner.
COPY . /app
RUN python -m compileall -q /app \
    && mkdir -p /app/var/keys \
    && chown -R app:app /app/var

USER 10001:10001
EXPOSE 8000 8001

# /healthz checks the process only, so a database outage does not restart every pod.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# gunicorn reads WEB_CONCURRENCY for its worker count and GUNICORN_BIND / INTERNAL_PORT
# for its listeners (no --bind here: it would replace them); /dev/shm keeps worker
# heartbeats off a possibly slow overlay filesystem.
CMD ["gunicorn", "config.wsgi:application", "--config", "python:config.gunicorn", \
     "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-"]

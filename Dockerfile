# syntax=docker/dockerfile:1
#
# The JobRoutr QuickBooks Gateway as a container image: `appliance serve` as a non-root user, its
# state in a volume, settings by APPLIANCE_* environment variables. See docs/docker.md.
#
#   docker build -t jobroutr-gateway .
#
# Every dependency ships a wheel for Python 3.11 on manylinux (x86_64 and aarch64), so neither stage
# needs a compiler. Pin PYTHON_IMAGE to a digest (python:3.11-slim@sha256:...) for builds that
# repeat bit for bit.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv in /opt/venv with the appliance and its pinned dependencies ------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Optional parts of the appliance, comma-separated extras of pyproject.toml: `postgres` adds the
# PostgreSQL driver (psycopg 3, pinned), for a store on a PostgreSQL server:
#   docker build --build-arg JOBROUTR_EXTRAS=postgres -t jobroutr-gateway .
ARG JOBROUTR_EXTRAS=

# Dependencies first, in a layer of their own, so that a change to the code alone reuses it.
COPY pyproject.toml constraints.txt ./
RUN python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; x = [e.strip() for e in os.environ.get('JOBROUTR_EXTRAS', '').split(',') if e.strip()]; print('\n'.join(p['dependencies'] + [d for e in x for d in p['optional-dependencies'][e]]))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt

# Then the appliance itself: not editable and without the dev extras, as an operator installs it.
# pip and setuptools are not needed to run it (about 25 MB of the virtualenv): they go.
COPY README.md ./
COPY appliance ./appliance
RUN pip install -c constraints.txt ".${JOBROUTR_EXTRAS:+[${JOBROUTR_EXTRAS}]}" \
    && appliance --version \
    && python -m pip uninstall --yes pip setuptools

# --- runtime: the base image, the virtualenv, the entrypoint and a user; nothing else -------------
FROM ${PYTHON_IMAGE} AS runtime

ARG JOBROUTR_UID=10001
ARG JOBROUTR_GID=10001

# A fixed uid/gid, so a bind-mounted state directory or a secret file can be given to it by number.
# The state directory is created 0700 and owned by that user: Docker copies both onto a new named
# volume when it is first mounted here. The admin socket lives outside the volume, in /run.
RUN groupadd --gid "${JOBROUTR_GID}" jobroutr \
    && useradd --uid "${JOBROUTR_UID}" --gid jobroutr --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin jobroutr \
    && install -d -m 0700 -o jobroutr -g jobroutr /var/lib/jobroutr-gateway \
    && install -d -m 0750 -o jobroutr -g jobroutr /run/jobroutr-gateway

COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/jobroutr-entrypoint

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APPLIANCE_STATE_DIR=/var/lib/jobroutr-gateway \
    APPLIANCE_ADMIN_SOCKET=/run/jobroutr-gateway/admin.sock \
    APPLIANCE_HTTP_HOST=0.0.0.0 \
    APPLIANCE_HTTP_PORT=8780 \
    APPLIANCE_LOG_FORMAT=json

VOLUME /var/lib/jobroutr-gateway
EXPOSE 8780
USER ${JOBROUTR_UID}:${JOBROUTR_GID}

# Liveness from inside the container, with the Python the image has (it has no curl). It follows
# APPLIANCE_HTTP_PORT when that is changed at `docker run`, and ignores http_proxy (set for the
# way out to Intuit, it must not carry this request). Readiness is GET /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:%s/healthz' % os.environ.get('APPLIANCE_HTTP_PORT', '8780'), timeout=3)"]

# `serve` refuses a volume that `appliance init` never initialised (docs/docker.md, first start).
# The service stops gracefully within 10 s of SIGTERM; give it `--stop-timeout 20`.
ENTRYPOINT ["/usr/local/bin/jobroutr-entrypoint"]
CMD ["serve"]

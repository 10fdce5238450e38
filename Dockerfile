# One image for every role (web, inference worker, training worker, scheduler); the
# compose file picks the command. CUDA-enabled torch wheels fall back to the CPU.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    APP_ENV=production \
    VAR_DIR=/app/var

RUN apt-get update \
    && apt-get install -y --no-install-recommends libjpeg62-turbo libgomp1 curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --upgrade pip && pip install -r requirements.txt

COPY manage.py Procfile ./
COPY colorizer ./colorizer
COPY webapp ./webapp
COPY worker ./worker
COPY templates ./templates
COPY static ./static
COPY scripts ./scripts
# The shipped model's metrics: version 1 shows them in the admin.
COPY docs/model_metrics.json ./docs/

# collectstatic needs settings but no secrets or database: give it throwaway values (a
# PostgreSQL URL, as production requires, that it never connects to).
RUN SECRET_KEY=build-only-$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n') \
    DATABASE_URL=postgres://build@127.0.0.1:1/build ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0

# Docker creates a missing mount point root-owned, and a new named volume takes its owner
# from the folder it mounts over: made here, the media volume is writable by hue.
RUN useradd --create-home --uid 1000 hue \
    && mkdir -p /app/var/media /app/var/training \
    && chown -R hue /app/var
USER hue

EXPOSE 8000
CMD ["bash", "scripts/run/docker-web.sh"]

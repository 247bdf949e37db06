# Ringwatch API, worker and beat image (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies pinned by constraints.txt (which names no index: pip's configured one is used).
COPY pyproject.toml constraints.txt README.md ./
COPY ringwatch ./ringwatch
# ringwatch/strategies links here: the wheel built below ships the default strategy as package data.
COPY strategies ./strategies
RUN pip install -c constraints.txt . \
 && useradd --create-home --uid 10001 --user-group ringwatch \
 && mkdir -p /var/lib/ringwatch \
 && chown ringwatch:ringwatch /var/lib/ringwatch

USER ringwatch
# Writable working directory: Celery beat keeps its schedule file here.
WORKDIR /var/lib/ringwatch
ENV RINGWATCH_DATA_DIR=/var/lib/ringwatch

EXPOSE 8080
CMD ["ringwatch", "serve", "--host", "0.0.0.0", "--port", "8080"]

# syntax=docker/dockerfile:1
# Build stage: install the project and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --upgrade pip && pip install .

# Runtime stage: the virtual environment, the migrations, an unprivileged user.
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LIANGPIAO_ENVIRONMENT=prod \
    LIANGPIAO_VAR_DIR=/var/lib/liangpiao \
    LIANGPIAO_RUN_JOBS_IN_PROCESS=false
RUN groupadd --system liangpiao \
    && useradd --system --gid liangpiao --home-dir /srv/liangpiao --shell /usr/sbin/nologin liangpiao \
    && mkdir -p /var/lib/liangpiao \
    && chown liangpiao:liangpiao /var/lib/liangpiao
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/liangpiao
COPY --chown=liangpiao:liangpiao alembic.ini ./
COPY --chown=liangpiao:liangpiao migrations ./migrations
COPY --chown=liangpiao:liangpiao app ./app
USER liangpiao
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
# Settings come from LIANGPIAO_* environment variables (see README.md). The worker
# runs from the same image: `docker run … python -m app worker`.
CMD ["sh", "-c", "python -m app migrate && exec uvicorn app.main:create_app --factory --host 0.0.0.0 --port 8000 --proxy-headers --no-access-log"]

# reviewflow workers: `docker compose up` runs them as `reviewflow worker light` and
# `reviewflow worker heavy` next to the engine (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REVIEWFLOW_STATE_DIR=/var/lib/reviewflow

# git: the workers read repositories with the git CLI
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 reviewflow \
    && mkdir -p /var/lib/reviewflow/artifacts \
    && chown -R reviewflow:reviewflow /var/lib/reviewflow

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY workers ./workers
COPY reviewflow ./reviewflow
COPY bpmn ./bpmn
# editable: the code finds bpmn/ next to the package, as in a checkout
RUN pip install -e .

USER reviewflow
ENTRYPOINT ["reviewflow"]
CMD ["worker", "light"]

# The code-location image: one image for every metric; the ECS task (deploy/dagster.yaml) or the
# Helm chart (deploy/helm/values.yaml) starts it with one metric's definitions.py. Build it after
# `make package` (dist/*.whl) and `metricdag deploy --env prod` (dist/catalog-cache/, so
# definitions load reads the catalog from disk and needs no network):
#   docker build -t <registry>/metricdag/code-location:<tag> .
FROM python:3.11-slim-bookworm

# Java and Scala nodes are compiled and run by the JDK and scalac at run time (README, "Java and
# Scala nodes"); compiled classes are cached under METRICDAG_JVM_CACHE.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless scala \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/metricdag
COPY dist/metricdag-*.whl /tmp/wheels/
RUN pip install --no-cache-dir /tmp/wheels/metricdag-*.whl && rm -rf /tmp/wheels

COPY pipeline-configs/ pipeline-configs/
COPY metrics/ metrics/
COPY deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml
COPY dist/catalog-cache/ /var/cache/metricdag/catalog/

ENV METRICDAG_HOME=/opt/metricdag \
    METRICDAG_ENV=prod \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    METRICDAG_CACHE_DIR=/var/cache/metricdag/catalog \
    METRICDAG_JVM_CACHE=/var/cache/metricdag/jvm \
    METRICDAG_METRIC=daily_net_sales

RUN useradd --create-home --uid 10001 metricdag \
 && mkdir -p /var/cache/metricdag/jvm \
 && chown -R metricdag /var/cache/metricdag /opt/dagster/dagster_home
USER metricdag

EXPOSE 3030
# One metric's code location (METRICDAG_METRIC); the Helm chart passes its own codeServerArgs.
CMD dagster code-server start -h 0.0.0.0 -p 3030 --working-directory /opt/metricdag \
    --python-file "metrics/${METRICDAG_METRIC}/definitions.py" --location-name "${METRICDAG_METRIC}"

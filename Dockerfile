# The project's image: the simulator, the Spark job (driver), the Spark master and workers, and the
# dashboard all run from it, so the driver and every executor share one pyspark and one Python
# environment (the Kafka source and the stager run in the executors' Python workers).

# The JVM artifacts of jvm/pom.xml (what `make install` puts in .venv/jvm), resolved by the Maven Wrapper and
# checked against jvm/checksums.sha256; only the jars go on to the image.
FROM python:3.11.14-slim-bookworm AS jars
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl unzip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY jvm/ jvm/
RUN cd jvm && ./mvnw -B -q --strict-checksums dependency:copy-dependencies -Djvm.home=/build/out \
    && cd /build/out && sha256sum --quiet --strict -c /build/jvm/checksums.sha256

FROM python:3.11.14-slim-bookworm

# Java for Spark; procps for Spark's scripts (ps); curl for healthchecks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/smartcity
# Runtime only: the pins of `make install` without the test and lint tools.
COPY requirements-runtime.lock ./
RUN pip install --no-cache-dir -r requirements-runtime.lock
# <sys.prefix>/jvm: where smartcity/jvm.py looks (`smartcity broker start` runs Apache Kafka from it).
COPY --from=jars /build/out /usr/local/jvm
COPY contract/ contract/
COPY kafkaclient/ kafkaclient/
COPY lakehouse/ lakehouse/
COPY ingestion/ ingestion/
COPY spark/ spark/
COPY cloud/ cloud/
COPY dashboard/ dashboard/
COPY smartcity/ smartcity/
COPY dbt_project/ dbt_project/
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir --no-deps . \
    && useradd --create-home --uid 10001 smartcity \
    && mkdir -p /data/lake && chown -R smartcity /data

ENV SPARK_HOME=/usr/local/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/usr/local/bin/smartcity-spark-python \
    SMARTCITY_DATA_DIR=/data \
    DBT_PROFILES_DIR=/opt/smartcity/dbt_project \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False
USER smartcity
ENTRYPOINT ["smartcity"]
CMD ["--help"]

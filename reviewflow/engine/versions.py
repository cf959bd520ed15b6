"""Pinned versions of everything the engine layer downloads or runs. The only place they live.

Target and reality differ on purpose:

- The project targets Camunda 8.9 (``TARGET_CAMUNDA_VERSION``): its orchestration cluster runs
  Operate on H2 (no Elasticsearch) and its connectors runtime provides the webhook ingress.
- The Maven Central mirror reachable from the machines this project is built and tested on
  does not serve ``io.camunda:camunda-zeebe`` 8.7/8.8/8.9 (HTTP 404) nor any
  ``io.camunda.connector:connector-runtime-bundle``. It does serve the real Zeebe 8.6.0
  distribution, so the local engine is that broker with its embedded gateway (gRPC + REST v2).
  It has no Operate (8.6 Operate needs Elasticsearch) and no connectors runtime.
- Users with Docker get the 8.9 images (``DOCKER_*_IMAGE``), see ``docker-compose.yml``.

When an 8.9 distribution becomes reachable, bump ``ZEEBE_VERSION`` and ``ZEEBE_TARBALL_SHA1``
together (the sha1 is published next to the artifact as ``.tar.gz.sha1``).
"""

from typing import Final

TARGET_CAMUNDA_VERSION: Final = "8.9"

# The local engine: the real Zeebe broker distribution from Maven Central.
ZEEBE_VERSION: Final = "8.6.0"
ZEEBE_GROUP_ID: Final = "io.camunda"
ZEEBE_ARTIFACT_ID: Final = "camunda-zeebe"
ZEEBE_PACKAGING: Final = "tar.gz"
ZEEBE_COORDINATES: Final = f"{ZEEBE_GROUP_ID}:{ZEEBE_ARTIFACT_ID}:{ZEEBE_VERSION}:{ZEEBE_PACKAGING}"
ZEEBE_TARBALL_NAME: Final = f"{ZEEBE_ARTIFACT_ID}-{ZEEBE_VERSION}.{ZEEBE_PACKAGING}"
# top-level directory inside the tarball
ZEEBE_DIST_DIR_NAME: Final = f"{ZEEBE_ARTIFACT_ID}-{ZEEBE_VERSION}"
# sha1 published on Maven Central for camunda-zeebe-8.6.0.tar.gz; checked after every download
ZEEBE_TARBALL_SHA1: Final = "92af49d80c24f2aa108bef7aced320e5f9bb7878"

MAVEN_DEPENDENCY_PLUGIN: Final = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

# Zeebe 8.6+ needs Java 21 or newer (tested here with Temurin 25).
MIN_JAVA_MAJOR: Final = 21

# For users with Docker (``reviewflow engine up --docker`` and docker-compose.yml). Only the
# minor version must match between the cluster and the connectors runtime.
DOCKER_CAMUNDA_IMAGE: Final = "camunda/camunda:8.9.23"
DOCKER_CONNECTORS_IMAGE: Final = "camunda/connectors-bundle:8.9.14"

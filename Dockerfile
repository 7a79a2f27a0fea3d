# syntax=docker/dockerfile:1
# gather-job's container. The transfer pipeline runs it as
#   singularity exec --cleanenv docker://IMAGE:TAG python -m gather_job --job-settings ' <json> '
# (exec runs exactly the command the ENTRYPOINT is); with Docker, the arguments follow the entrypoint:
#   docker run --rm -v "$PWD:/data" IMAGE:TAG --job-settings '{"output_dir": "/data/out", ...}'
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Installed as root into the image's Python (byte-compiled there, readable by any user: Singularity
# runs the image as the calling user); the lock pins every dependency, the rig mappers' too.
COPY requirements.lock /tmp/requirements.lock
COPY --from=builder /dist/ /tmp/dist/
RUN pip install --constraint /tmp/requirements.lock "$(ls /tmp/dist/*.whl)[mappers]" \
    && rm -rf /tmp/dist /tmp/requirements.lock \
    && python -m gather_job --version
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin gather
USER gather
WORKDIR /home/gather
ENTRYPOINT ["python", "-m", "gather_job"]

# One image for every Lianxin service; the command picks the service.
# The code and everything it reads at run time (the figures' definitions, the dispatch catalogue
# and holidays, the page templates, the migrations) is the installed package: package data in
# pyproject.toml. Nothing is read from a checkout; tests/deploy/test_image.py builds this file's
# tree without Docker and starts every service, migrate and the demo loader from it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 lianxin
COPY --from=build /install /usr/local
WORKDIR /app
# The deployment's config files only (k8s mounts its own at /config): no source tree here, so
# `python -m services…` runs the installed package, package data included.
COPY deploy/config ./deploy/config
USER lianxin
ENV LIANXIN_CONFIG=/app/deploy/config/compose.yaml
# e.g. `docker run lianxin intake`, `docker run lianxin migrate`
ENTRYPOINT ["python", "-m", "services.kernel.runner"]

# One image for every Lianxin service; the command picks the service.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 lianxin
COPY --from=build /install /usr/local
WORKDIR /app
COPY deploy ./deploy
COPY services ./services
USER lianxin
ENV LIANXIN_CONFIG=/app/deploy/config/compose.yaml
# e.g. `docker run lianxin intake`, `docker run lianxin migrate`
ENTRYPOINT ["python", "-m", "services.kernel.runner"]

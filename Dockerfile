# mmbot: headless market maker. Config and data are volumes; secrets come in as env vars.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY connectors ./connectors
COPY amm ./amm
COPY strategies ./strategies
COPY config.example.toml /config/config.toml
RUN pip install . \
 && useradd --create-home --uid 10001 mmbot \
 && mkdir -p /data && chown mmbot:mmbot /data /config \
 && sed -i 's#^database_url = .*#database_url = "sqlite:////data/mmbot.sqlite"#' /config/config.toml

USER mmbot
# The store lives in /data; a mounted config should point bot.database_url there too.
VOLUME ["/config", "/data"]
EXPOSE 8780
CMD ["mmbot", "run", "--config", "/config/config.toml"]

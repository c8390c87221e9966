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
 && mkdir -p /data && chown mmbot:mmbot /data /config

USER mmbot
# The store lives in /data (point bot.database_url at sqlite:////data/mmbot.sqlite).
VOLUME ["/config", "/data"]
EXPOSE 8780
CMD ["mmbot", "run", "--config", "/config/config.toml"]

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
# Healthy while the event loop answers and every venue is connected with fresh books (503 otherwise).
# The ops endpoint binds 127.0.0.1 by default, which is where this check runs: inside the container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8780/health', timeout=4)" || exit 1
CMD ["mmbot", "run", "--config", "/config/config.toml"]

# classmod: a slim image that runs `classmod run <platform>`.
#   docker build -t classmod .
#   docker run -v classmod-data:/data -e CLASSMOD_TELEGRAM_TOKEN=... classmod run telegram
# The Detoxify bundle (CLASSMOD_MODEL_DIR) and the SQLite file live on the /data volume:
#   docker run -v classmod-data:/data classmod model fetch     (once, where internet exists)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CLASSMOD_DATABASE_URL=sqlite:////data/classmod.db \
    CLASSMOD_MODEL_DIR=/data/models \
    HF_HOME=/data/hf-cache

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY moderation ./moderation
COPY policies ./policies
# The CPU build of torch keeps the image small; the pin in pyproject.toml matches it.
# DejaVu Sans: the safeguarding chronology's PDF shows every script a learner writes in (not only Latin).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install . \
 && useradd --create-home --uid 10001 classmod \
 && mkdir -p /data && chown classmod /data

USER classmod
VOLUME ["/data"]
ENTRYPOINT ["classmod"]
CMD ["run", "console"]

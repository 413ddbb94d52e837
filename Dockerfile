# Bulwark application image: web (gunicorn), worker and beat all run from it.
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Hashed, compressed static files for WhiteNoise; build-time values only.
RUN DEBUG=true STATIC_MANIFEST=true BULWARK_VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput \
 && useradd --create-home --uid 1000 bulwark \
 && mkdir -p /app/var && chown -R bulwark /app/var
USER bulwark
EXPOSE 8000
CMD ["gunicorn", "treasury.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]

"""gunicorn's settings for the portal (`gunicorn -c cert_portal/gunicorn_conf.py cert_portal.wsgi`).

`manage.py run_portal --server gunicorn` (what `make serve` runs) passes this file; a service
manager in production can pass it too. Every value comes from the environment, read strictly: a
bad value stops gunicorn with a message that names the variable. The address to listen on is not
here: gunicorn's --bind (run_portal's --addr) says it.
"""

import multiprocessing
import os


def _int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise SystemExit(f"{name}={value} is below its minimum, {minimum}.")
    return value


# gunicorn's own rule of thumb, 2 x CPUs + 1, capped: each worker holds a database connection
# and its own memory, and on a large machine the database gives out before the CPUs do.
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 12), minimum=1)
# A request still running after this many seconds has its worker killed and restarted. Exports
# and reports run in the background worker, so no page should come near it.
timeout = _int("GUNICORN_TIMEOUT", 30, minimum=1)
# On SIGTERM or SIGINT (a deploy, Ctrl-C), a worker finishes the requests it has for this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=1)
keepalive = 5
# A worker is replaced after this many requests (plus up to the jitter, so that they are not all
# replaced at once), which bounds what a slow leak can grow to.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000, minimum=0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100, minimum=0)
# Access and error logs to standard output and error, for the service manager's journal.
accesslog = "-"
errorlog = "-"
# gunicorn trusts X-Forwarded-* headers only from these addresses: the TLS proxy in front of it
# (loopback when it runs on the same machine). Django reads the scheme and the client's address
# itself (BEHIND_TLS_PROXY, TRUSTED_PROXY_COUNT); this only keeps gunicorn from taking them from
# anyone else.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The application is loaded in each worker, not in the master: a worker replaced after
# max_requests starts fresh and no database connection is shared across a fork.
preload_app = False

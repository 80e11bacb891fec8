"""Settings of the national CERT portal, read from the environment.

Every variable is listed with its meaning in `.env.example`. A bad value stops start-up with a
message naming the variable (see cert_portal/env.py).
"""

import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from cert_portal.encryption import configured_keys
from cert_portal.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_rate,
    env_str,
    load_dotenv,
)
from cert_portal.storage_config import STORAGE_KINDS, attachment_storage

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(Path(env_str("CERT_PORTAL_ENV_FILE", str(BASE_DIR / ".env"))))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random string (for example the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`), or set DEBUG=1 "
            "for a local installation. `make run` writes both to .env for you."
        )
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"  # nosec B105 # only with DEBUG on; DEBUG off refuses to start without SECRET_KEY
elif not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY is too short: use at least 32 random characters.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # django.contrib.admin, whose admin.site asks for both factors (cert_portal/accounts/admin_site.py).
    "cert_portal.accounts.apps.TwoFactorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # The API's OpenAPI schema, and Swagger UI's files served from our own static files.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_q",
    # Counts the rate limits of the public forms (cert_portal/ratelimit.py).
    "django_ratelimit",
    # Throttles staff sign-in (cert_portal/signin.py); its attempts are listed in the admin.
    "axes",
    # Two-factor sign-in for every staff member (cert_portal/accounts/).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Content-Security-Policy (issue 13): its system checks; the header comes from CSPMiddleware.
    "csp",
    "cert_portal",
    # The append-only audit trail (issue 13).
    "cert_portal.audit",
    "organizations",
    "incidents",
    "advisories",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so that static files (an SVG is a document too) carry them as well:
    # Content-Security-Policy, then Permissions-Policy and `Cache-Control: no-store` on every
    # response that did not choose its own caching (issue 13).
    "csp.middleware.CSPMiddleware",
    "cert_portal.security_headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Lets services record to the audit trail who did what from where (issue 13).
    "cert_portal.audit.middleware.AuditRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Refuses an oversized body before anything reads it, in the visitor's language: after
    # LocaleMiddleware, before CsrfViewMiddleware (the first to read a posted body).
    "cert_portal.request_limits.RequestLimitsMiddleware",
    # Refuses NUL characters and bytes that are not UTF-8 in the address and in posted forms
    # with a 400 that names the field (issue 13): after the body limits, before CSRF.
    "cert_portal.input_checks.InputChecksMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Signs staff out after STAFF_IDLE_MINUTES without a request; after auth and messages.
    "cert_portal.accounts.idle.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The database or the file store failing in a view: 503 with Retry-After and a page (or a
    # problem document) that says nothing was stored and to send it again (issue 13). No
    # middleware after it handles exceptions, so its process_exception is the first to run.
    "cert_portal.unavailable.UnavailableMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cert_portal.urls"
WSGI_APPLICATION = "cert_portal.wsgi.application"
ASGI_APPLICATION = "cert_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cert_portal.context_processors.portal",
                # The staff dashboard's header: active CERT, role, unread notices.
                "cert_portal.staff.staff_frame",
            ],
        },
    },
]

# Database: SQLite in the project folder unless DATABASE_URL says otherwise.
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the task worker write to one file: wait for each other instead of
    # failing with "database is locked", and take the write lock at BEGIN so that a read never
    # has to be upgraded to a write in the middle of a transaction.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out sign-in before any password is checked (cert_portal/signin.py).
    "cert_portal.signin.SignInThrottleBackend",
    # ModelBackend answers no object permission. guardian's ObjectPermissionBackend is left out on
    # purpose: it would answer has_perm(perm, incident) from the CERT group's grants without the
    # person's role; only incidents.access decides (issue 7, finding 3).
    "django.contrib.auth.backends.ModelBackend",
]
# The public needs no object permissions: no anonymous user row (DOMAIN.md §8).
ANONYMOUS_USER_NAME = None

# Argon2id for every new password (OWASP ASVS 5.0 V11.4.2). The PBKDF2 hashers after it still
# verify the hashes made before issue 13, and Django rehashes each with Argon2 at its owner's next
# sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
# ASVS 5.0 V6.2: at least 12 characters, no upper bound below 64 (Django sets none), no rules on
# which kinds of characters a password must hold (so no NumericPasswordValidator, which refuses a
# long password of digits only: V6.2.5), refused when it is one of the 20,000 most common leaked
# passwords (V6.2.4) or too close to the member's own name or e-mail (V6.2.11).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Staff sign in with two factors (cert_portal/accounts/); the admin uses the same page.
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:queue"
# A signed-in session with no request for this many minutes is signed out (cert_portal/accounts/idle.py).
STAFF_IDLE_MINUTES = env_int("STAFF_IDLE_MINUTES", 30, minimum=1)
# However active, a signed-in session ends this many hours after sign-in (ASVS 5.0 V7.3.2): the
# idle middleware counts from the sign-in, and the session row and cookie last no longer. The
# cookie is also dropped when the browser closes.
SESSION_MAX_HOURS = env_int("SESSION_MAX_HOURS", 12, minimum=1)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ur", "اردو")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Karachi")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files uploaded to incidents live outside the web root and are only served through views that
# check permissions.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Where they are stored: MEDIA_ROOT (may be a file system shared by several machines), or an
# S3-compatible bucket through django-storages (cert_portal/storage_config.py; .env.example).
ATTACHMENT_STORAGE = env_choice("ATTACHMENT_STORAGE", "filesystem", STORAGE_KINDS)
STORAGES = {
    "default": attachment_storage(ATTACHMENT_STORAGE, os.environ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# E-mail: printed to the console unless an SMTP server is configured.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if not env_str("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend",
)
# For the file-based backend (what `make run` chooses): one file per e-mail in this folder.
EMAIL_FILE_PATH = Path(env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail")))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CERT portal <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who is e-mailed when a background task fails for good (cert_portal/task_failures.py): a comma-
# separated list of addresses. Empty: the failures are only logged and listed in the admin.
ADMINS = [("", address) for address in env_list("ADMINS", [])]
if any("@" not in address for _name, address in ADMINS):
    raise ImproperlyConfigured(f"ADMINS={os.environ.get('ADMINS')!r} must be e-mail addresses "
                               "separated by commas, e.g. ops@cert.example.gov.pk.")

# Security defaults fail closed; a local installation over plain HTTP turns them off with DEBUG,
# or one by one (SECURE_SSL_REDIRECT=0 SECURE_COOKIES=0 SECURE_HSTS_SECONDS=0, as `make serve` on
# a developer's machine does).
# Plain HTTP is answered with a redirect to HTTPS. Behind a proxy that ends TLS this needs
# BEHIND_TLS_PROXY=1, or every request looks like plain HTTP and is redirected for ever.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# HSTS: browsers that saw the portal over HTTPS refuse plain HTTP to it for this long. Preload
# (on by default) lets the host be submitted to the browsers' built-in list (hstspreload.org),
# which requires a year and the subdomains; taking a host off that list takes months.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
# No script of ours reads a cookie: the CSRF token is in each form (and in Swagger UI's page).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True
# The __Host- prefix makes a browser refuse the cookie unless it is Secure, has Path=/ and no
# Domain, so that no other host under the same domain (nor a plain-HTTP page) can set or replace
# the session or CSRF cookie. A browser also refuses it without Secure, hence only with
# SECURE_COOKIES.
if SECURE_COOKIES:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
# Lax, not Strict: a link to an incident in a notification e-mail (read in webmail, another site)
# must open the page signed in. Every change is a POST, which Lax does not send cross-site, and
# carries a CSRF token anyway.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4): only our own scripts, styles and images, no inline script
# or style, no plug-ins, no framing, forms post only to the portal. A template never carries
# <script> with a body, <style>, style="..." or on...= handlers (tests/browser fails on a
# violation). data: images: the blank favicon of every page, and the icons of Swagger UI's CSS.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A form post whose CSRF check fails gets a page that says what to do, not Django's bare 403.
CSRF_FAILURE_VIEW = "cert_portal.views.csrf_failure"

# Background tasks (django-q2). The Django ORM is the broker unless REDIS_URL names a Redis
# server. Tasks are idempotent: a task that fails or times out is delivered again (at most
# max_attempts times), so `timeout` stays well below `retry` (DOMAIN.md §8).
REDIS_URL = env_str("REDIS_URL", "")
Q_CLUSTER = {
    "name": "cert_portal",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": env_int("Q_TIMEOUT", 60, minimum=1),
    "retry": env_int("Q_RETRY", 300, minimum=2),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 5, minimum=1),
    "ack_failures": False,
    "save_limit": env_int("Q_SAVE_LIMIT", 1000, minimum=0),
    "catch_up": False,
    "poll": 1,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if Q_CLUSTER["timeout"] * 2 > Q_CLUSTER["retry"]:
    raise ImproperlyConfigured(
        f"Q_TIMEOUT={Q_CLUSTER['timeout']} must be at most half of Q_RETRY={Q_CLUSTER['retry']}, "
        "or a task still running would be delivered a second time."
    )
# The SLA pass (incidents/sla.py) commits every SLA_PASS_CHUNK incidents and, once it has run for
# SLA_PASS_TIME_BUDGET_SECONDS, stops between chunks and queues its own follow-up, so that a
# backlog drains in several tasks instead of one the worker kills at Q_TIMEOUT and starts over.
# A third of the timeout leaves room for the chunk that overruns the budget and a slow database.
SLA_PASS_CHUNK = env_int("SLA_PASS_CHUNK", 1000, minimum=1)
SLA_PASS_TIME_BUDGET_SECONDS = env_int("SLA_PASS_TIME_BUDGET_SECONDS",
                                       max(1, Q_CLUSTER["timeout"] // 3), minimum=1)
if SLA_PASS_TIME_BUDGET_SECONDS >= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured(
        f"SLA_PASS_TIME_BUDGET_SECONDS={SLA_PASS_TIME_BUDGET_SECONDS} must be below "
        f"Q_TIMEOUT={Q_CLUSTER['timeout']} (a third of it is the default): lower it or raise "
        "Q_TIMEOUT, or the worker stops the SLA pass before it is done and it starts over for ever."
    )

# Cache, used for rate limits. LocMemCache counts per server process: with several processes each
# allows the full rate. With REDIS_URL every process shares one cache, so a limit is global.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL, "KEY_PREFIX": "cert_portal"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# django-ratelimit counts on that cache. Its checks call LocMemCache an error (not shared between
# processes: we choose it knowingly for a single-process installation, and say in .env.example
# that REDIS_URL makes the limits global) and Django's own RedisCache "not officially supported"
# (its incr is Redis' atomic INCR, which is what the library needs).
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
if not REDIS_URL:
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")
# guardian warns that its object permission backend is not installed: left out on purpose, see
# AUTHENTICATION_BACKENDS.
SILENCED_SYSTEM_CHECKS.append("guardian.W001")

# Rate limits of the public writes: COUNT/UNIT (s, m, h, d) or 0 for none. Per client unless said
# otherwise. See cert_portal/ratelimit.py and incidents/public/views.py for what each counts.
REPORT_RATE_LIMIT = env_rate("REPORT_RATE_LIMIT", "10/hour")
STATUS_RATE_LIMIT = env_rate("STATUS_RATE_LIMIT", "30/hour")
FOLLOW_UP_RATE_LIMIT = env_rate("FOLLOW_UP_RATE_LIMIT", "20/hour")
# Per report, whoever sends them.
FOLLOW_UP_REPORT_RATE_LIMIT = env_rate("FOLLOW_UP_REPORT_RATE_LIMIT", "30/day")
# Public subscriptions to TLP:CLEAR advisories (each sends a confirmation e-mail); see
# advisories/subscriptions/views.py.
ADVISORY_SUBSCRIBE_RATE_LIMIT = env_rate("ADVISORY_SUBSCRIBE_RATE_LIMIT", "10/hour")
# How many reverse proxies of our own append to X-Forwarded-For; the client address is read that
# many entries from the right. 0 trusts no header: anyone can write X-Forwarded-For.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if BEHIND_TLS_PROXY else 0, minimum=0)

# Staff sign-in throttle (django-axes; see cert_portal/signin.py): AXES_FAILURE_LIMIT wrong
# passwords for one account from one client address lock that pair for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "cert_portal.ratelimit.client_network"
AXES_LOCKOUT_CALLABLE = "cert_portal.signin.lockout_response"
# Failed sign-ins per client address, whatever the account (COUNT/UNIT as the public forms' rates).
SIGNIN_FAILURE_RATE_LIMIT = env_rate("SIGNIN_FAILURE_RATE_LIMIT", "30/hour")
# Failed sign-ins and lock-outs are still logged; this only drops the banner django-axes would
# print at the start of every manage.py command.
AXES_VERBOSE = False

# The partner API (issue 11): API keys or a member's session (both factors), problem details
# for every error, a rate limit per key, an OpenAPI schema by drf-spectacular.
# 0 (or empty) is no limit, as for the public forms; DRF spells that None (given "0", its parser
# fails on every API request with a 500).
API_RATE_LIMIT = env_rate("API_RATE_LIMIT", "600/minute").strip() or "0"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cert_portal.api.authentication.ApiKeyAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["cert_portal.api.permissions.IsMemberOrKey"],
    "DEFAULT_THROTTLE_CLASSES": ["cert_portal.api.throttling.PerKeyThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": None if API_RATE_LIMIT == "0" else API_RATE_LIMIT},
    "EXCEPTION_HANDLER": "cert_portal.api.problems.problem_exception_handler",
    # drf-spectacular's AutoSchema; importing it registers the API key's scheme (issue 11).
    "DEFAULT_SCHEMA_CLASS": "cert_portal.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "cert_portal.api.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "National CERT portal API",
    "DESCRIPTION": "The partner API of the national CERT portal: what a CERT's members may see "
                   "and do in the dashboard, for their systems (DOMAIN.md §6).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the drf-spectacular-sidecar package: served by us, nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation's problem answers (RFC 9457), and the Bearer key scheme (issue 11).
    "PREPROCESSING_HOOKS": ["cert_portal.api.schema.only_versioned_api"],
    # Advisories and incidents both have a severity and a status, on other scales.
    "ENUM_NAME_OVERRIDES": {"AdvisorySeverityEnum": "advisories.models.AdvisorySeverity",
                            "AdvisoryStatusEnum": "advisories.models.AdvisoryStatus",
                            "IncidentSeverityEnum": "incidents.severity.Severity",
                            "IncidentStatusEnum": "incidents.models.Status"},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "cert_portal.api.schema.add_problem_responses"],
}

# Incidents (DOMAIN.md §3). SLA targets per severity can be overridden with INCIDENT_SLA in a
# settings module of the deployment; see incidents/severity.py for the format.
INCIDENT_REFERENCE_PREFIX = env_str("INCIDENT_REFERENCE_PREFIX", "PK-INC")
# Advisories are numbered PK-ADV-<year>-<nnnn> (DOMAIN.md §5).
ADVISORY_REFERENCE_PREFIX = env_str("ADVISORY_REFERENCE_PREFIX", "PK-ADV")
# Contact URIs of /.well-known/security.txt, comma-separated; empty: the national CERT's e-mail.
SECURITY_TXT_CONTACT = env_str("SECURITY_TXT_CONTACT", "")
# Statistics (issue 12): a figure below this that holds an incident the viewer may not read is
# shown as "fewer than N", so that no cell points at one such incident.
STATISTICS_SMALL_CELL = env_int("STATISTICS_SMALL_CELL", 3, minimum=2)
INCIDENT_ATTACHMENT_MAX_BYTES = env_int("INCIDENT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024,
                                        minimum=1)
# Attachments and monthly report PDFs are encrypted at rest with these Fernet keys (issue 13;
# cert_portal/encryption.py): the first encrypts, all decrypt, so a key is rotated by adding a new
# one first, running `manage.py rotate_attachment_keys`, then removing the old one. Required with
# DEBUG off; with DEBUG on and none set, a development key derived from SECRET_KEY, with a warning.
ATTACHMENT_ENCRYPTION_KEYS = configured_keys(env_str("ATTACHMENT_ENCRYPTION_KEYS", ""), debug=DEBUG,
                                             secret_key=SECRET_KEY)
# What the public may send with a report or a follow-up (incidents/public/reports.py): files per
# post, bytes per file and per post, and what one report may accumulate from the public.
PUBLIC_REPORT_MAX_FILES = env_int("PUBLIC_REPORT_MAX_FILES", 5, minimum=1)
PUBLIC_REPORT_MAX_FILE_BYTES = env_int("PUBLIC_REPORT_MAX_FILE_BYTES", 10 * 1024 * 1024, minimum=1)
PUBLIC_REPORT_MAX_TOTAL_BYTES = env_int("PUBLIC_REPORT_MAX_TOTAL_BYTES", 25 * 1024 * 1024,
                                        minimum=1)
PUBLIC_REPORT_MAX_STORED_FILES = env_int("PUBLIC_REPORT_MAX_STORED_FILES", 10, minimum=1)
PUBLIC_REPORT_MAX_STORED_BYTES = env_int("PUBLIC_REPORT_MAX_STORED_BYTES", 50 * 1024 * 1024,
                                         minimum=1)
# The largest request body, refused with 413 before it is read (cert_portal/request_limits.py):
# the largest upload one post may carry, plus 1 MiB for the form's text fields.
_LARGEST_UPLOAD = max(min(PUBLIC_REPORT_MAX_TOTAL_BYTES,
                          PUBLIC_REPORT_MAX_FILES * PUBLIC_REPORT_MAX_FILE_BYTES),
                      INCIDENT_ATTACHMENT_MAX_BYTES)
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", _LARGEST_UPLOAD + 1024 * 1024, minimum=1)
if REQUEST_MAX_BYTES < _LARGEST_UPLOAD:
    raise ImproperlyConfigured(
        f"REQUEST_MAX_BYTES={REQUEST_MAX_BYTES} is smaller than the largest upload the forms allow "
        f"({_LARGEST_UPLOAD} bytes): such uploads would be refused. Raise it, or lower the "
        "attachment limits."
    )
# Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE go to a temporary file whose name stays short.
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "cert_portal.request_limits.ShortNameTemporaryFileUploadHandler",
]

# The portal's address as its users reach it, for the links in e-mails, which are read outside
# the portal. A wrong guess sends every reader to a dead link, so a server must say it;
# `run_portal --addr` passes its own address to the processes it starts.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "").strip().rstrip("/")
if not PORTAL_BASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "PORTAL_BASE_URL is not set. Set it to the address people use to reach the portal, "
            "e.g. https://cert.example.gov.pk: the links in e-mails start with it. (With DEBUG=1 "
            "it defaults to http://127.0.0.1:8000.)"
        )
    PORTAL_BASE_URL = "http://127.0.0.1:8000"
elif not PORTAL_BASE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"PORTAL_BASE_URL={PORTAL_BASE_URL!r} is not an http:// or "
                               "https:// address, e.g. https://cert.example.gov.pk.")
# The notification outbox (incidents/notifications.py): a failed e-mail is tried again after
# 1, 2, 4, ... times this delay, at most this many times in all, then marked failed.
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5, minimum=1)
NOTIFICATION_RETRY_DELAY_SECONDS = env_int("NOTIFICATION_RETRY_DELAY_SECONDS", 60, minimum=1)
# The outboxes (notifications, advisory e-mails, webhooks) claim a row before sending it; a claim
# older than this belongs to a worker that died mid-send (killed, machine lost) and the row is sent
# again. A task runs at most Q_TIMEOUT seconds before django-q2 stops it, so a shorter takeover
# could send a row a live worker is still sending.
OUTBOX_STALE_CLAIM_SECONDS = env_int("OUTBOX_STALE_CLAIM_SECONDS", 600, minimum=1)
if OUTBOX_STALE_CLAIM_SECONDS <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured(
        f"OUTBOX_STALE_CLAIM_SECONDS={OUTBOX_STALE_CLAIM_SECONDS} must be above "
        f"Q_TIMEOUT={Q_CLUSTER['timeout']}, or a message a running task is still sending is sent "
        "a second time."
    )
# Webhooks (incidents/webhooks.py) go to https:// addresses on public networks only; this lets
# them go to http:// on loopback (127.0.0.1, localhost) too, for tests and development.
WEBHOOK_ALLOW_LOOPBACK = env_bool("WEBHOOK_ALLOW_LOOPBACK", False)

# What the portal calls itself, shown in every page's header.
PORTAL_NAME = env_str("PORTAL_NAME", "National CERT Portal")
PORTAL_COUNTRY = env_str("PORTAL_COUNTRY", "Pakistan")
# The name an authenticator app shows beside the portal's codes (django-otp's otpauth:// URI).
OTP_TOTP_ISSUER = PORTAL_NAME
# The admin lists and deletes members' authenticators (a member who lost phone and recovery codes
# enrols again) but never shows their secrets or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django_q": {"level": LOG_LEVEL, "handlers": ["console"], "propagate": False}},
}

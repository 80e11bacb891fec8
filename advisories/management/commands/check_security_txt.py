from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test import Client
from django.test.utils import override_settings

from advisories.csaf.views import SECURITY_TXT_PATH


class Command(BaseCommand):
    help = ("Render /.well-known/security.txt through Django's test client (no server, no "
            "network) and check it with sectxt, the parser of RFC 9116 that security teams use: "
            "print every error and exit with status 1 on any. Recommendations are printed too "
            "but do not fail the check. `.ci/run` runs it (issue 10).")

    def handle(self, *args, **options):
        try:
            from sectxt import Parser
        except ImportError:
            raise CommandError("sectxt is not installed: pip install -e '.[dev]' (make test "
                               "installs it).") from None
        base = urlsplit(settings.PORTAL_BASE_URL)
        url = f"{settings.PORTAL_BASE_URL}{SECURITY_TXT_PATH}"
        # The request names the portal's own host, as a visitor's would; that host is allowed
        # for this request only, whatever ALLOWED_HOSTS says (this is a check, not a server).
        with override_settings(ALLOWED_HOSTS=[base.hostname or "localhost"]):
            response = Client().get(SECURITY_TXT_PATH, HTTP_HOST=base.netloc,
                                    secure=base.scheme == "https")
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}: "
                               f"{response.content[:300].decode(errors='replace')}")
        content_type = response.get("Content-Type", "")
        parser = Parser(response.content, urls=url)
        errors = list(parser.errors)
        if content_type != "text/plain; charset=utf-8":
            errors.append({"code": "content_type", "line": None,
                           "message": f"Served as {content_type!r}; RFC 9116 asks for "
                                      "text/plain; charset=utf-8."})
        self.stdout.write(f"Checked {url} with sectxt:")
        self.stdout.write(response.content.decode(errors="replace"))
        for item in parser.recommendations:
            self.stdout.write(f"  recommendation ({item['code']}): {item['message']}")
        for item in errors:
            where = f"line {item['line']}: " if item.get("line") else ""
            self.stderr.write(f"  ERROR {where}{item['code']}: {item['message']}")
        if errors:
            raise CommandError(f"security.txt has {len(errors)} error(s); see above.")
        self.stdout.write(self.style.SUCCESS("security.txt: no errors."))

"""The registry's management commands: load_national_structure and check_registry."""

import time
from base64 import b32decode
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from cert_portal.accounts.devices import second_factor_verify
from organizations.models import Cert, Membership, Role, Sector
from organizations.rules import CertKind, Region
from organizations.services import cert_create, group_name_for

User = get_user_model()


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {
        "certs": Cert.objects.count(),
        "sectors": Sector.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "groups": Group.objects.count(),
        "group members": Group.user_set.through.objects.count(),
    }


def demo_logins(output: str) -> dict[str, str]:
    """{username: password or "(unchanged)"} from the table the --demo run prints."""
    table = output.split("Demo logins for", 1)[1].split("\nDemo authenticators", 1)[0].splitlines()[1:]
    logins = {}
    for line in table:
        if not line.startswith("  "):
            continue
        username, password, *_ = line.split()
        assert username not in logins, f"{username} printed twice"
        logins[username] = password
    return logins


# --- load_national_structure -----------------------------------------------------------------

def test_load_national_structure_creates_the_structure_of_the_rules(empty_registry):
    output = run("load_national_structure")

    certs = list(Cert.objects.select_related("parent", "sector"))
    by_kind: dict[str, list[Cert]] = {}
    for cert in certs:
        by_kind.setdefault(cert.kind, []).append(cert)
    assert f"{len(certs)} CERTs created, 0 already there" in output
    for kind in ("national", "government", "cii", "federal"):
        assert len(by_kind[kind]) == 1, kind
    national = by_kind["national"][0]
    assert national.parent is None
    assert {cert.parent for cert in by_kind["government"] + by_kind["cii"]} == {national}
    assert by_kind["federal"][0].parent.kind == CertKind.GOVERNMENT
    provincial = by_kind["provincial"]
    assert sorted(cert.region for cert in provincial) == sorted(Region.values)
    assert all(cert.parent.kind == CertKind.GOVERNMENT for cert in provincial)
    local = by_kind["local"]
    assert len(local) >= 2
    for cert in local:
        assert cert.parent.kind == CertKind.PROVINCIAL
        assert cert.region == cert.parent.region != ""
    sectoral = {cert.sector.slug: cert for cert in by_kind["sectoral"]}
    assert set(sectoral) == {"telecom", "banking", "capital-markets", "power", "oil-gas", "defence"}
    assert all(cert.parent.kind == CertKind.CII for cert in sectoral.values())
    regulators = {slug: cert.sector.regulator for slug, cert in sectoral.items()}
    assert regulators["telecom"] == "Pakistan Telecommunication Authority"
    assert regulators["banking"] == "State Bank of Pakistan"
    assert regulators["capital-markets"] == "Securities and Exchange Commission of Pakistan"
    assert regulators["power"] == "National Electric Power Regulatory Authority"
    assert regulators["oil-gas"] == "Oil and Gas Regulatory Authority"
    assert regulators["defence"] == "Ministry of Defence"
    assert len(by_kind["organizational"]) >= 1
    assert set(by_kind) == set(CertKind.values)
    for cert in certs:
        assert cert.group.name == group_name_for(cert.slug)
        assert cert.path == (cert.parent.path if cert.parent else "/") + f"{cert.pk}/"
    assert User.objects.count() == 0  # users only with --demo


def test_load_national_structure_twice_changes_nothing(empty_registry):
    run("load_national_structure")
    first = row_counts()
    paths = dict(Cert.objects.values_list("slug", "path"))

    output = run("load_national_structure")

    assert row_counts() == first
    assert dict(Cert.objects.values_list("slug", "path")) == paths
    assert f"0 CERTs created, {first['certs']} already there" in output


def test_load_national_structure_demo_creates_members_in_every_role(empty_registry):
    output = run("load_national_structure", "--demo")

    logins = demo_logins(output)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert not admin.memberships.exists()
    members = Membership.objects.select_related("user", "cert")
    assert {membership.role for membership in members} == set(Role.values)
    assert len({membership.cert_id for membership in members}) >= 5
    assert set(logins) == {"admin"} | {membership.user.username for membership in members}
    for membership in members:
        assert membership.user.groups.filter(pk=membership.cert.group_id).exists()
        # Members work in the dashboard; only the registry administrator enters the admin.
        assert not membership.user.is_staff and not membership.user.is_superuser
    assert User.objects.count() == len(logins)
    for username, password in logins.items():
        assert password != "(unchanged)"
        assert output.count(password) == 1, username  # printed once, next to its user


def test_demo_passwords_printed_are_the_real_ones(empty_registry):
    logins = demo_logins(run("load_national_structure", "--demo"))

    for username, password in logins.items():
        user = authenticate(username=username, password=password)
        assert user is not None and user.username == username
    assert authenticate(username="admin", password="not-the-password") is None


def test_load_national_structure_demo_twice_keeps_the_passwords(empty_registry):
    first = demo_logins(run("load_national_structure", "--demo"))
    counts = row_counts()
    hashes = dict(User.objects.values_list("username", "password"))

    output = run("load_national_structure", "--demo")

    second = demo_logins(output)
    assert set(second) == set(first)
    assert set(second.values()) == {"(unchanged)"}
    assert "--reset-demo-passwords" in output
    assert dict(User.objects.values_list("username", "password")) == hashes
    assert row_counts() == counts
    assert authenticate(username="admin", password=first["admin"]) is not None


def test_reset_demo_passwords_gives_new_working_passwords(empty_registry):
    first = demo_logins(run("load_national_structure", "--demo"))

    second = demo_logins(run("load_national_structure", "--demo", "--reset-demo-passwords"))

    assert set(second) == set(first)
    for username in first:
        assert second[username] != first[username]
        assert authenticate(username=username, password=second[username]) is not None
        assert authenticate(username=username, password=first[username]) is None


def demo_authenticators(output: str) -> dict[str, tuple[str, str]]:
    """{username: (setup key, otpauth:// URI)} from the list the --demo run prints."""
    lines = output.split("\nDemo authenticators", 1)[1].splitlines()
    rows = [line for line in lines if line.startswith("  ")]
    printed = {}
    for key_line, uri_line in zip(rows[::2], rows[1::2], strict=True):
        username, *groups = key_line.split()
        assert username not in printed, f"{username} printed twice"
        printed[username] = ("".join(groups), uri_line.strip())
    return printed


def test_every_demo_user_has_an_authenticator_whose_secret_is_printed(empty_registry):
    output = run("load_national_structure", "--demo")

    assert "DEMO DATA ONLY" in output
    printed = demo_authenticators(output)
    assert set(printed) == set(demo_logins(output))
    for username, (key, uri) in printed.items():
        device = TOTPDevice.objects.get(user__username=username)
        assert device.confirmed
        assert b32decode(key) == device.bin_key
        assert uri.startswith(f"otpauth://totp/National%20CERT%20Portal%3A{username}?secret={key}")
        # The code an app set up with the printed key shows is the second factor of sign-in.
        app = TOTP(b32decode(key))
        app.time = time.time()
        assert second_factor_verify(user=device.user, code=f"{app.token():06d}") == device
    assert len({key for key, _ in printed.values()}) == len(printed), "a secret of each one's own"


def test_a_second_demo_run_prints_the_same_secrets(empty_registry):
    first = demo_authenticators(run("load_national_structure", "--demo"))
    devices = TOTPDevice.objects.count()

    second = demo_authenticators(run("load_national_structure", "--demo", "--reset-demo-passwords"))

    assert second == first
    assert TOTPDevice.objects.count() == devices == len(first)


def test_the_structure_alone_prints_no_secrets(empty_registry):
    output = run("load_national_structure")

    assert "Demo authenticators" not in output
    assert not TOTPDevice.objects.exists()


def test_reset_demo_passwords_without_demo_is_refused(empty_registry):
    with pytest.raises(CommandError, match="--reset-demo-passwords only goes with --demo"):
        run("load_national_structure", "--reset-demo-passwords")

    assert Cert.objects.count() == 0


def test_load_national_structure_refuses_a_registry_with_another_national_cert(empty_registry):
    cert_create(actor=None, kind="national", slug="old-national", name="Old National CERT",
                short_name="OLD-CERT")
    before = row_counts()

    with pytest.raises(CommandError) as error:
        run("load_national_structure", "--demo")

    message = str(error.value)
    assert "nothing was changed" in message
    assert "There may be at most one active National CERT" in message
    assert "Old National CERT" in message
    assert row_counts() == before
    assert list(Cert.objects.values_list("slug", flat=True)) == ["old-national"]


# --- check_registry --------------------------------------------------------------------------

def check_registry_fails(*args) -> str:
    """Run check_registry, expecting it to fail; return its report and its closing summary."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("check_registry", *args, stdout=out)
    assert error.value.returncode == 1
    errors = len(finding_lines(out.getvalue()))
    assert errors >= 1
    assert str(error.value).startswith(f"{errors} broken rules, ")
    return out.getvalue()


def finding_lines(output: str, level: str = "ERROR") -> list[str]:
    return [line for line in output.splitlines() if line.startswith(level)]


def assert_reported(output: str, slug: str, code: str) -> None:
    assert any(f" {slug}: [{code}] " in line for line in finding_lines(output)), output


def test_check_registry_on_the_loaded_structure_reports_only_staffing_gaps(registry):
    output = run("check_registry")

    assert finding_lines(output, "ERROR") == []
    warnings = finding_lines(output, "WARNING")
    assert "WARNING lahore: [staffing.head] Lahore Metropolitan CERT has no head." in warnings
    assert ("WARNING lahore: [staffing.handler] Lahore Metropolitan CERT has no incident "
            "handler.") in warnings
    assert ("WARNING example-bank-soc: [staffing.contact] Example Bank SOC has no 24/7 contact: "
            "hotline and email missing.") in warnings
    assert not any(line.startswith("WARNING lahore: [staffing.contact]") for line in warnings)
    assert f"0 broken rules, {len(warnings)} staffing gaps." in output


def test_check_registry_reports_staffing_gaps_but_does_not_fail(db):
    run("load_national_structure", "--demo")
    assert not any(line.startswith("WARNING national:")
                   for line in finding_lines(run("check_registry"), "WARNING"))
    Cert.objects.filter(slug="national").update(hotline="")
    Membership.objects.filter(cert__slug="national", role=Role.HEAD).delete()

    output = run("check_registry")

    warnings = finding_lines(output, "WARNING")
    assert "WARNING national: [staffing.head] National CERT has no head." in warnings
    assert ("WARNING national: [staffing.contact] National CERT has no 24/7 contact: hotline "
            "missing.") in warnings
    assert not any(line.startswith("WARNING national: [staffing.handler]") for line in warnings)
    assert finding_lines(output, "ERROR") == []


def _local_in_another_region(registry):
    Cert.objects.filter(slug="lahore").update(region=Region.SINDH)
    return [("lahore", "local.region")]


def _federal_under_cii(registry):
    Cert.objects.filter(slug="federal").update(parent=registry["cii"])
    return [("federal", "federal.parent")]


def _two_certs_parent_of_each_other(registry):
    Cert.objects.filter(slug="example-bank-soc").update(parent=registry["example-telecom-csirt"])
    Cert.objects.filter(slug="example-telecom-csirt").update(parent=registry["example-bank-soc"])
    return [("example-bank-soc", "tree.cycle"), ("example-telecom-csirt", "tree.cycle")]


def _cert_under_its_own_descendant(registry):
    Cert.objects.filter(slug="punjab").update(parent=registry["lahore"])
    return [("punjab", "tree.cycle"), ("lahore", "tree.cycle"), ("punjab", "provincial.parent")]


def _inactive_cert_with_active_children(registry):
    Cert.objects.filter(slug="punjab").update(is_active=False)
    return [("punjab", "tree.active_children"), ("lahore", "tree.inactive_parent")]


def _stale_path(registry):
    Cert.objects.filter(slug="karachi").update(path="/999/")
    return [("karachi", "tree.path")]


def _inactive_national(registry):
    Cert.objects.filter(slug="national").update(is_active=False)
    return [("national", "tree.active_children")]


@pytest.mark.parametrize("plant", [
    _local_in_another_region, _federal_under_cii, _two_certs_parent_of_each_other,
    _cert_under_its_own_descendant, _inactive_cert_with_active_children, _stale_path,
    _inactive_national,
])
def test_check_registry_names_each_broken_rule_and_its_cert(registry, plant):
    problems = plant(registry)

    output = check_registry_fails()

    for slug, code in problems:
        assert_reported(output, slug, code)
    errors = finding_lines(output)
    # A CERT the planted problem does not touch is not blamed.
    assert not any(line.startswith("ERROR   banking:") for line in errors), output


def test_check_registry_tells_a_cycle_from_the_certs_hanging_below_it(registry):
    _cert_under_its_own_descendant(registry)

    output = check_registry_fails()

    assert ("ERROR   punjab: [tree.cycle] Punjab Government CERT is its own ancestor: its parent "
            "links go round in a circle.") in output
    assert "ERROR   lahore: [tree.cycle] Lahore Metropolitan CERT is its own ancestor" in output
    # Rawalpindi is not in the cycle: its parent Punjab is.
    assert ("ERROR   rawalpindi: [tree.cycle] Rawalpindi District CERT hangs below a cycle: its "
            "ancestors' parent links go round in a circle.") in output
    assert "Rawalpindi District CERT is its own ancestor" not in output


def test_check_registry_reports_a_missing_national_cert(registry):
    Cert.objects.filter(slug="national").update(is_active=False)

    output = check_registry_fails()

    assert "ERROR   [national.missing] There is no active National CERT." in output


def test_check_registry_reports_every_planted_problem_at_once(registry):
    planted = []
    for plant in (_local_in_another_region, _federal_under_cii, _two_certs_parent_of_each_other,
                  _inactive_cert_with_active_children, _stale_path):
        planted += plant(registry)
    Cert.objects.filter(slug="sindh").update(hotline="", email="")

    output = check_registry_fails()

    for slug, code in planted:
        assert_reported(output, slug, code)
    assert ("WARNING sindh: [staffing.contact] Sindh Government CERT has no 24/7 contact: "
            "hotline and email missing.") in output
    assert "WARNING sindh: [staffing.head]" in output
    assert "WARNING sindh: [staffing.handler]" in output


def test_check_registry_repair_paths_rewrites_stale_paths(registry):
    lahore, punjab = registry["lahore"], registry["punjab"]
    board = registry["punjab-it-board-cert"]
    Cert.objects.filter(pk=lahore.pk).update(path="/999/", depth=9)
    # A move written around the services: the parent changes, the stored path does not.
    Cert.objects.filter(pk=board.pk).update(parent=lahore)
    assert_reported(check_registry_fails(), "lahore", "tree.path")

    output = run("check_registry", "--repair-paths")

    assert "Repaired the tree path of 2 CERTs." in output
    assert finding_lines(output) == []
    lahore.refresh_from_db()
    board.refresh_from_db()
    assert (lahore.path, lahore.depth) == (f"{punjab.path}{lahore.pk}/", 3)
    assert (board.path, board.depth) == (f"{punjab.path}{lahore.pk}/{board.pk}/", 4)
    assert "Repaired the tree path of 0 CERTs." in run("check_registry", "--repair-paths")


def test_check_registry_repair_groups_puts_members_back_in_their_groups(db):
    run("load_national_structure", "--demo")
    member = User.objects.get(username="lahore.handler")
    lahore = Cert.objects.get(slug="lahore")
    member.groups.remove(lahore.group)

    output = run("check_registry", "--repair-groups")

    assert "Made 1 group membership changes." in output
    assert member.groups.filter(pk=lahore.group_id).exists()


def test_the_demo_logins_name_the_address_the_portal_serves_on(registry, settings):
    # `make run ADDR=...` passes its address as PORTAL_BASE_URL to this command.
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8765/"

    output = run("load_national_structure", "--demo")

    assert "Demo logins for http://127.0.0.1:8765/login/ " in output
    assert "8000" not in output

"""Who may see or do what is decided in the access modules only (DOMAIN.md §2, issue 7 finding 3).

guardian's own questions (`has_perm` with an object, `get_objects_for_user`, `get_perms`,
`ObjectPermissionChecker`, `guardian.shortcuts`) answer from the CERT group's grants without the
person's role in that CERT; asked anywhere but an access module, they would let a liaison do a
handler's work. The project's source is read here and any such call outside `*/access.py` fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from incidents.access import Action, can
from incidents.grants import VIEW
from organizations.services import membership_add
from tests.factories import UserFactory, make_incident

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("cert_portal", "organizations", "incidents", "advisories")
GUARDIAN_NAMES = frozenset({"get_objects_for_user", "get_objects_for_group", "get_perms",
                            "get_user_perms", "get_group_perms", "ObjectPermissionChecker"})


def project_modules() -> list[Path]:
    """Every .py file of the project's packages, migrations aside."""
    return sorted(path for package in PACKAGES if (REPOSITORY / package).is_dir()
                  for path in (REPOSITORY / package).rglob("*.py")
                  if "migrations" not in path.relative_to(REPOSITORY).parts)


def permission_questions(source: str) -> list[str]:
    """Where `source` asks guardian or an object permission backend a question itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("has_perm", "has_perms"):
            if len(node.args) > 1 or any(keyword.arg == "obj" for keyword in node.keywords):
                found.append(f"line {line}: {node.func.attr}() with an object")
        elif isinstance(node, ast.Name) and node.id in GUARDIAN_NAMES:
            found.append(f"line {line}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in GUARDIAN_NAMES:
            found.append(f"line {line}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            names = {alias.name for alias in node.names}
            if (node.module or "").startswith("guardian.shortcuts") or (
                    node.module == "guardian" and "shortcuts" in names):
                found.append(f"line {line}: imports guardian.shortcuts")
            elif names & GUARDIAN_NAMES:
                found.append(f"line {line}: imports {', '.join(sorted(names & GUARDIAN_NAMES))}")
        elif isinstance(node, ast.Import):
            found.extend(f"line {line}: imports {alias.name}" for alias in node.names
                         if alias.name.startswith("guardian.shortcuts"))
    return found


def test_no_module_but_the_access_modules_asks_object_permissions_itself():
    modules = project_modules()
    assert any(path.name == "access.py" for path in modules)  # the scan sees the project
    offences = [f"{path.relative_to(REPOSITORY)} {where}" for path in modules
                if path.name != "access.py"
                for where in permission_questions(path.read_text(encoding="utf-8"))]
    assert offences == []


@pytest.mark.parametrize("source", [
    "user.has_perm('incidents.view_incident', incident)",
    "request.user.has_perm('incidents.work_incident', obj=incident)",
    "from guardian.shortcuts import get_objects_for_user",
    "from guardian import shortcuts",
    "import guardian.shortcuts",
    "guardian.shortcuts.get_perms(user, incident)",
    "from guardian.core import ObjectPermissionChecker",
    "checker = core.ObjectPermissionChecker(user)",
])
def test_the_scan_recognises_each_kind_of_question(source):
    assert permission_questions(source) != []


@pytest.mark.parametrize("source", [
    "user.has_perm('organizations.change_cert')",  # a model permission, no object
    "from guardian.models import GroupObjectPermissionBase",
    "access.require(user, incident, Action.VIEW)",
])
def test_the_scan_lets_other_code_through(source):
    assert permission_questions(source) == []


def test_a_cert_group_grant_gives_no_object_permission_through_django(registry):
    # The CERT's group holds view and work grants on the incident; only incidents.access, which
    # adds the role, may turn them into a yes. Django's own has_perm must not answer from them.
    lahore = registry["lahore"]
    incident = make_incident(owner_cert=lahore)
    liaison = UserFactory(username="lahore.liaison", is_staff=True)
    membership_add(cert=lahore, user=liaison, role="liaison", actor=None)
    assert liaison.groups.filter(pk=lahore.group_id).exists()
    assert lahore.group.permissions.count() == 0  # the grants are on the object only
    assert incident.incidentgroupobjectpermission_set.filter(
        group=lahore.group, permission__codename=VIEW).exists()
    assert can(liaison, incident, Action.VIEW)  # ... which access turns into viewing

    assert liaison.has_perm(f"incidents.{VIEW}", incident) is False
    assert liaison.has_perm("incidents.work_incident", incident) is False
    assert liaison.get_all_permissions(incident) == set()

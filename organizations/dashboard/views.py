"""The registry in the staff dashboard (issue 9, item 7): the national tree with incident counts,
CERT profiles, members and their management by heads, and the registry health report.

Interfaces only: organizations.access decides what each person sees and may do, the selectors
read, organizations.services writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from cert_portal.staff import refused, staff_page
from organizations.access import RegistryAccess, registry_access
from organizations.dashboard.forms import ROLE_CHOICES, AddMemberForm, ChangeRoleForm, RemoveMemberForm
from organizations.dashboard.selectors import IncidentCounts, incident_counts
from organizations.health import registry_findings
from organizations.models import Cert, Membership
from organizations.rules import RULES
from organizations.selectors import (
    TreeNode,
    active_cert,
    active_cert_tree,
    active_users_named,
    cert_members,
    cert_membership,
    public_cert_profile,
)
from organizations.services import membership_add, membership_change_role, membership_remove

ROLE_LABELS = dict(ROLE_CHOICES)


@dataclass
class CountedNode:
    """A CERT of the tree as the dashboard shows it: with its subtree's numbers when the member
    may see them (`counted`), and the member's own role in it."""

    cert: Cert
    children: list[CountedNode] = field(default_factory=list)
    counted: bool = False
    open: int = 0
    overdue: int = 0
    role: str | None = None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, "")


def _counted(nodes: list[TreeNode], counts: IncidentCounts, access: RegistryAccess) -> list[CountedNode]:
    result = []
    for node in nodes:
        counted = access.may_see_counts(node.cert)
        result.append(CountedNode(
            cert=node.cert, children=_counted(node.children, counts, access), counted=counted,
            open=counts.open.get(node.cert.pk, 0) if counted else 0,
            overdue=counts.overdue.get(node.cert.pk, 0) if counted else 0,
            role=access.role_in(node.cert)))
    return result


@staff_page
def tree(request):
    """The national tree, each CERT with the open and overdue incidents of its subtree where the
    member may see those numbers (organizations.access)."""
    access = registry_access(request.user)
    counts = incident_counts(now=timezone.now())
    return render(request, "dashboard/registry/tree.html", {
        "nav": "registry",
        "nodes": _counted(active_cert_tree(), counts, access),
        "may_see_health": access.may_see_health(),
    })


@staff_page
def cert(request, slug: str):
    """A CERT's profile as the public page shows it, with what the member may see besides: its
    numbers, its members, its findings in the health report."""
    cert, ancestors, children = public_cert_profile(slug)
    access = registry_access(request.user)
    context = {"nav": "registry", "cert": cert, "ancestors": ancestors, "rule": RULES[cert.kind],
               "role": ROLE_LABELS.get(access.role_in(cert)), "may_manage": access.may_manage_members(cert)}
    child_nodes = [CountedNode(cert=child) for child in children]
    if access.may_see_counts(cert):
        counts = incident_counts(now=timezone.now(), subtree=cert)
        context["counts"] = {
            "own_open": counts.own_open.get(cert.pk, 0),
            "own_overdue": counts.own_overdue.get(cert.pk, 0),
            "open": counts.open.get(cert.pk, 0),
            "overdue": counts.overdue.get(cert.pk, 0),
        }
        for node in child_nodes:
            node.counted = True
            node.open = counts.open.get(node.cert.pk, 0)
            node.overdue = counts.overdue.get(node.cert.pk, 0)
    context["children"] = child_nodes
    if access.may_see_members(cert):
        context["members"] = _member_rows(cert_members(cert))
    if access.may_see_staffing(cert):
        context["findings"] = [finding for finding in registry_findings()
                               if finding.cert is not None and finding.cert.pk == cert.pk]
    return render(request, "dashboard/registry/cert.html", context)


@staff_page
def members(request, slug: str):
    """A CERT's members. Its heads add, re-role and remove members here; its other members and
    the heads of the CERTs above read the list; anyone else gets 404 (organizations.access)."""
    cert = active_cert(slug)
    access = registry_access(request.user)
    access.require_members_visible(cert)
    if request.method == "POST":
        if not access.may_manage_members(cert):
            return refused(request, _("Only a head of %(cert)s manages its members: you may read "
                                      "the list, not change it.") % {"cert": cert.name})
        return _manage(request, cert)
    return _members_page(request, cert, may_manage=access.may_manage_members(cert))


def _manage(request, cert: Cert):
    action = request.POST.get("action", "")
    if action == "add":
        return _add(request, cert)
    if action == "role":
        return _change_role(request, cert)
    if action == "remove":
        return _remove(request, cert)
    return _members_page(request, cert, may_manage=True, status=400, problem=_(
        "The form sent no action this page knows: add, change a role or remove a member."))


def _add(request, cert: Cert):
    form = AddMemberForm(request.POST, auto_id="add-%s")
    if form.is_valid():
        found = active_users_named(form.cleaned_data["who"])
        if not found:
            form.add_error("who", _("No active account has the username or e-mail address "
                                    "“%(who)s”. Ask a portal administrator to create the account, "
                                    "then add it here.") % {"who": form.cleaned_data["who"]})
        elif len(found) > 1:
            form.add_error("who", _("Several accounts use this e-mail address: give the "
                                    "username instead."))
        else:
            user = found[0]
            role = form.cleaned_data["role"]
            try:
                membership_add(cert=cert, user=user, role=role, actor=request.user)
            except ValidationError as error:
                _attach(form, error, {"user": "who", "role": "role"})
            else:
                messages.success(request, _("%(person)s is now a member of %(cert)s as %(role)s.") % {
                    "person": _name(user), "cert": cert.name, "role": ROLE_LABELS[role]})
                return redirect("registry:members", slug=cert.slug)
    return _members_page(request, cert, may_manage=True, add_form=form, status=400)


def _change_role(request, cert: Cert):
    form = ChangeRoleForm(request.POST)
    membership = cert_membership(cert, request.POST.get("membership"))
    if membership is None:
        return _not_a_member(request, cert)
    if form.is_valid():
        role = form.cleaned_data["role"]
        if role == membership.role:
            messages.info(request, _("%(person)s already is %(role)s: nothing was changed.") % {
                "person": _name(membership.user), "role": ROLE_LABELS[role]})
            return redirect("registry:members", slug=cert.slug)
        try:
            membership_change_role(membership=membership, role=role, actor=request.user,
                                   keep_a_head=True)
        except ValidationError as error:
            _attach(form, error, {"role": "role", "user": "role"})
        else:
            messages.success(request, _("%(person)s is now %(role)s of %(cert)s.") % {
                "person": _name(membership.user), "role": ROLE_LABELS[role], "cert": cert.name})
            return redirect("registry:members", slug=cert.slug)
    return _members_page(request, cert, may_manage=True, status=400,
                         row_error=(membership.pk, _first_error(form, "role")))


def _remove(request, cert: Cert):
    form = RemoveMemberForm(request.POST)
    membership = cert_membership(cert, request.POST.get("membership"))
    if membership is None or not form.is_valid():
        return _not_a_member(request, cert)
    if not form.cleaned_data["confirm"]:
        return render(request, "dashboard/registry/remove.html", {
            "nav": "registry", "cert": cert, "membership": membership,
            "person": _name(membership.user), "role_label": ROLE_LABELS.get(membership.role, ""),
            "is_self": membership.user_id == request.user.pk})
    try:
        membership_remove(membership=membership, actor=request.user, keep_a_head=True)
    except ValidationError as error:
        return _members_page(request, cert, may_manage=True, status=400,
                             row_error=(membership.pk, _error_text(error)))
    messages.success(request, _("%(person)s is no longer a member of %(cert)s.") % {
        "person": _name(membership.user), "cert": cert.name})
    if membership.user_id == request.user.pk:
        # They left: the members page may no longer be theirs to see.
        return redirect("registry:cert", slug=cert.slug)
    return redirect("registry:members", slug=cert.slug)


def _not_a_member(request, cert: Cert):
    return _members_page(request, cert, may_manage=True, status=400, problem=_(
        "That person is not a member of %(cert)s (any more): choose a member from the list "
        "below.") % {"cert": cert.name})


def _members_page(request, cert: Cert, *, may_manage: bool, add_form=None, row_error=None,
                  problem: str | None = None, status: int = 200):
    """The members page; after a refused change, with the error summary at the top and each
    error next to its field."""
    add_form = add_form if add_form is not None else AddMemberForm(auto_id="add-%s")
    errors = []  # (id of the field, message) for the error summary
    if problem:
        errors.append(("members", problem))
    for name in ("who", "role"):
        errors.extend((f"add-{name}", message) for message in add_form.errors.get(name, []))
    errors.extend(("add-who", message) for message in add_form.non_field_errors())
    if row_error is not None:
        errors.append((f"role-{row_error[0]}", row_error[1]))
    return render(request, "dashboard/registry/members.html", {
        "nav": "registry", "cert": cert, "may_manage": may_manage,
        "members": _member_rows(cert_members(cert), row_error),
        "add_form": add_form, "role_choices": ROLE_CHOICES, "errors": errors,
    }, status=status)


@dataclass
class MemberRow:
    membership: Membership
    name: str
    role_label: str
    error: str = ""


def _member_rows(memberships: list[Membership], row_error=None) -> list[MemberRow]:
    return [MemberRow(membership=m, name=_name(m.user), role_label=ROLE_LABELS.get(m.role, m.role),
                      error=row_error[1] if row_error and row_error[0] == m.pk else "")
            for m in memberships]


@staff_page
def health(request):
    """The registry health report (organizations.health) for heads: a head of the National CERT
    sees all of it, another head the findings about their subtrees."""
    access = registry_access(request.user)
    if not access.may_see_health():
        return refused(request, _("The registry health report is for heads of CERTs: ask a head "
                                  "of your CERT."))
    findings = sorted(access.visible_findings(registry_findings()),
                      key=lambda finding: (finding.level != "error",
                                           finding.cert.path if finding.cert else ""))
    return render(request, "dashboard/registry/health.html", {
        "nav": "registry", "findings": findings,
        "errors": sum(1 for finding in findings if finding.level == "error"),
        "warnings": sum(1 for finding in findings if finding.level != "error"),
        "whole_registry": access.sees_whole_registry(),
    })


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _attach(form, error: ValidationError, fields: dict[str, str]) -> None:
    """Put a service's ValidationError on the form's fields (its keys renamed by `fields`)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, messages_of_key in error.message_dict.items():
        name = fields.get(key, NON_FIELD_ERRORS)
        for message in messages_of_key:
            form.add_error(None if name == NON_FIELD_ERRORS else name, message)


def _first_error(form, name: str) -> str:
    for message in form.errors.get(name, []) + list(form.non_field_errors()):
        return message
    return _("The role could not be changed.")


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)

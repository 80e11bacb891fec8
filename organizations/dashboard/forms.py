"""The forms of the members page: they parse what a head posted; organizations.services decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from organizations.models import Role

ROLE_CHOICES = [
    (Role.HEAD, _("Head")),
    (Role.HANDLER, _("Incident handler")),
    (Role.ANALYST, _("Analyst")),
    (Role.LIAISON, _("Liaison")),
]


class AddMemberForm(forms.Form):
    who = forms.CharField(label=_("Username or e-mail address"), max_length=254,
                          error_messages={"required": _("Give the username or e-mail address of "
                                                        "the person to add.")})
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES,
                             error_messages={"required": _("Choose the role the person gets."),
                                             "invalid_choice": _("Choose one of the roles in "
                                                                 "the list.")})


class ChangeRoleForm(forms.Form):
    membership = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES,
                             error_messages={"required": _("Choose the new role."),
                                             "invalid_choice": _("Choose one of the roles in "
                                                                 "the list.")})


class RemoveMemberForm(forms.Form):
    membership = forms.IntegerField(widget=forms.HiddenInput)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

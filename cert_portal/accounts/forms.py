"""The forms of staff sign-in and of the two-factor page. They parse; the checks of passwords go
through django.contrib.auth.authenticate (and so through the sign-in throttle), the checks of
codes through cert_portal.accounts.devices."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


def _code_input(**attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "pattern": "[0-9 ]*", "maxlength": "7", "spellcheck": "false",
                                  "autocapitalize": "off", "class": "code-input", **attrs})


class FocusFirstError:
    """After a failed check the error summary takes the focus, not the first field."""

    def drop_autofocus(self) -> None:
        for field in self.fields.values():
            field.widget.attrs.pop("autofocus", None)


class SignInForm(FocusFirstError, AuthenticationForm):
    """Step 1: user name and password, checked by authenticate(request=...) (AuthenticationForm),
    which runs the throttle of cert_portal/signin.py."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("User name")
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "spellcheck": "false"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class SecondFactorForm(FocusFirstError, forms.Form):
    """A code of the authenticator app or, instead, one of the recovery codes."""

    code = forms.CharField(
        label=_("6-digit code from your authenticator app"), required=False, max_length=16,
        widget=_code_input(autofocus=True),
        help_text=_("Open the authenticator app on your phone and enter the code it shows for "
                    "this portal."))
    recovery_code = forms.CharField(
        label=_("Or a recovery code"), required=False, max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                      "autocapitalize": "off"}),
        help_text=_("Lost your phone? Each of the recovery codes you saved works once."))

    def clean(self):
        data = super().clean()
        code, recovery = data.get("code", "").strip(), data.get("recovery_code", "").strip()
        if code and recovery:
            self.add_error("recovery_code", _("Enter either the code from your app or a recovery "
                                              "code, not both."))
        elif not code and not recovery:
            self.add_error("code", _("Enter the 6-digit code from your authenticator app, or a "
                                     "recovery code below."))
        data["entered"] = code or recovery
        data["entered_field"] = "code" if code else "recovery_code"
        return data


class EnrolmentForm(FocusFirstError, forms.Form):
    """The first code of a newly added authenticator, which proves it was added right."""

    code = forms.CharField(
        label=_("6-digit code your app now shows"), max_length=16, widget=_code_input(),
        help_text=_("After adding the portal to your app, enter the code it shows for it."),
        error_messages={"required": _("Enter the 6-digit code your authenticator app shows for "
                                      "this portal.")})

"""The Django admin for the registry. Every save goes through organizations.services, so the
admin obeys the same composition rules as everything else."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from cert_portal.audit.models import AuditKind
from cert_portal.audit.record import record
from organizations.api_keys import api_key_issue, api_key_revoke, check_api_key_issue
from organizations.models import ApiKey, Cert, Membership, Sector
from organizations.services import (
    CERT_FIELDS,
    cert_check,
    cert_create,
    cert_update,
    membership_add,
    membership_change_role,
    membership_remove,
)


@admin.register(Sector)
class SectorAdmin(admin.ModelAdmin):
    list_display = ["name", "regulator", "regulator_short_name"]
    search_fields = ["name", "regulator"]
    prepopulated_fields = {"slug": ["name"]}

    # Sectors are reference data with no service of their own: the admin is their only writer,
    # so it records their changes on the audit trail itself (in the admin's transaction).
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changes = {name: {"old": str(form.initial.get(name)) if change else None,
                          "new": str(form.cleaned_data.get(name))}
                   for name in sorted(form.changed_data)}
        record(AuditKind.REGISTRY_CHANGED, request=request, obj=obj,
               detail={"action": "update" if change else "create", "changes": changes})

    def delete_model(self, request, obj):
        record(AuditKind.REGISTRY_CHANGED, request=request, obj=obj,
               detail={"action": "delete", "changes": {}})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for sector in queryset:
            self.delete_model(request, sector)


class CertAdminForm(forms.ModelForm):
    website = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Cert
        fields = ["kind", "name", "short_name", "slug", "parent", "region", "sector", "is_active",
                  "constituency", "description", "hotline", "email", "website", "pgp_fingerprint",
                  "time_zone", "languages"]

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return  # fix the fields first; the rules need valid values to be judged
        for violation in cert_check(self.instance):
            field = violation.field if violation.field in self.fields else None
            self.add_error(field, ValidationError(violation.message, code=violation.code))


class MembershipInline(admin.TabularInline):
    """Who works in this CERT; changed through the Memberships page, which keeps groups in step."""

    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


@admin.register(Cert)
class CertAdmin(admin.ModelAdmin):
    form = CertAdminForm
    list_display = ["name", "short_name", "kind", "parent", "region", "sector", "is_active"]
    list_filter = ["kind", "is_active", "region", "sector"]
    list_select_related = ["parent", "sector"]
    search_fields = ["name", "short_name", "slug"]
    prepopulated_fields = {"slug": ["short_name"]}
    readonly_fields = ["path", "depth", "group", "created_at", "updated_at"]
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["kind", "name", "short_name", "slug", "parent", "region", "sector",
                           "is_active"]}),
        ("Public profile (RFC 2350)", {"fields": ["constituency", "description", "hotline",
                                                  "email", "website", "pgp_fingerprint",
                                                  "time_zone", "languages"]}),
        ("Tree", {"fields": ["path", "depth", "group", "created_at", "updated_at"],
                  "classes": ["collapse"]}),
    ]

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data
                       if name in CERT_FIELDS}
            saved = cert_update(cert=obj, actor=request.user, **changes)
        else:
            fields = {name: value for name, value in form.cleaned_data.items()
                      if name in CERT_FIELDS}
            saved = cert_create(actor=request.user, **fields)
        obj.__dict__.update({key: value for key, value in saved.__dict__.items()
                             if not key.startswith("_")})

    def has_delete_permission(self, request, obj=None):
        # CERTs are deactivated, never deleted: incidents and history refer to them.
        return False


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "cert", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "cert" in self.fields:
            self.fields["cert"].queryset = Cert.objects.filter(is_active=True)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "cert", "role", "created_at"]
    list_filter = ["role", "cert__kind", "cert"]
    list_select_related = ["user", "cert"]
    search_fields = ["user__username", "user__email", "cert__name", "cert__short_name"]
    autocomplete_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "cert", "created_at"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            membership_change_role(membership=obj, role=form.cleaned_data["role"],
                                   actor=request.user)
        else:
            saved = membership_add(cert=form.cleaned_data["cert"], user=form.cleaned_data["user"],
                                   role=form.cleaned_data["role"], actor=request.user)
            obj.pk = saved.pk
            obj.created_at = saved.created_at

    def delete_model(self, request, obj):
        membership_remove(membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        # Also used by the "delete selected" action, so bulk removal goes through the service.
        for membership in queryset.select_related("user", "cert"):
            membership_remove(membership=membership, actor=request.user)


class ApiKeyAdminForm(forms.ModelForm):
    """Issuing a key: its CERT, name, scope and expiry; the rest is made by the service."""

    expires_days = forms.IntegerField(label="Expires after (days)", min_value=1, initial=90,
                                      help_text="At most 3650.")

    class Meta:
        model = ApiKey
        fields = ["cert", "name", "scope"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "cert" in self.fields:
            self.fields["cert"].queryset = Cert.objects.filter(is_active=True)

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and data.get("cert") is not None:
            try:
                check_api_key_issue(actor=None, cert=data["cert"], name=data.get("name", ""),
                                    scope=data.get("scope", ""),
                                    expires_days=data.get("expires_days"))
            except ValidationError as error:
                for field, messages_ in error.message_dict.items():
                    for message in messages_:
                        self.add_error(field if field in self.fields else None, message)
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Partner API keys (issue 11): listed, issued and revoked through organizations.api_keys.
    The admin acts as an operator (actor None, as `manage.py create_api_key`); Django's admin log
    names the person. The secret is shown once, in the message after issuing; only its hash is
    kept. Keys are never edited or deleted: revoke them."""

    form = ApiKeyAdminForm
    list_display = ["name", "cert", "scope", "prefix", "created_at", "expires_at", "last_used_at",
                    "revoked_at"]
    list_filter = ["scope", "cert"]
    list_select_related = ["cert"]
    search_fields = ["name", "prefix", "cert__name", "cert__short_name"]
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["cert", "name", "scope", "prefix", "created_by", "created_at", "expires_at",
                "last_used_at", "revoked_at", "revoked_by"]

    def get_fields(self, request, obj=None):
        return ["cert", "name", "scope", "expires_days"] if obj is None else self.get_readonly_fields(
            request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        # Checked in the form's clean() by the same check the service runs.
        key, secret = api_key_issue(actor=None, cert=form.cleaned_data["cert"],
                                    name=form.cleaned_data["name"], scope=form.cleaned_data["scope"],
                                    expires_days=form.cleaned_data["expires_days"])
        obj.pk = key.pk
        messages.warning(request, f"The secret of “{key.name}” is {secret} — copy it now: it is "
                                  "shown this once and never again.")

    @admin.action(description="Revoke the selected API keys")
    def revoke_selected(self, request, queryset):
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True).select_related("cert"):
            api_key_revoke(actor=None, key=key)
            revoked += 1
        messages.success(request, f"{revoked} key(s) revoked: requests with them are refused now.")
